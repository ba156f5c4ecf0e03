// ONNX teachers in the engine: a PyTorch-exported CNN teaches a tfjs student on real MNIST digits.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../src/ml/backend/index.js';
import { SpecError } from '../../src/ml/errors.js';
import { inspectOnnx } from '../../src/ml/onnx/inspect.js';
import { runJob } from '../../src/ml/index.js';
import type { EngineSpec } from '../../src/ml/spec.js';
import { MNIST_CNN, MNIST_CNN_DECLARED, mnistCnnBytes } from '../support/onnx-fixture.js';

before(async () => {
  await initBackend('wasm');
});

const onnxTeacher = async () => ({ format: 'onnx' as const, bytes: mnistCnnBytes(), declared: MNIST_CNN_DECLARED });

describe('ONNX teachers', () => {
  it('the fixture is what a PyTorch user exports: NCHW with a dynamic batch axis, logits of 10 digits', async () => {
    const facts = await inspectOnnx(mnistCnnBytes(), MNIST_CNN_DECLARED);
    assert.deepEqual(facts.modelShape, [1, 28, 28]);
    assert.deepEqual(facts.sampleShape, [28, 28, 1], 'read from the dataset as 28×28 one-channel images');
    assert.equal(facts.classes, 10);
    assert.equal(facts.parameters, MNIST_CNN.parameters, 'parameters counted from the initializers equal what PyTorch counted');
  });

  it('distils a tfjs student: teacher accuracy is what the export script printed, and the student beats its baseline on a small transfer set', async (t) => {
    // The export script trained on this seed's training split and scored this seed's 2,000 test digits;
    // the student sees 100 digits of that training split.
    const spec: EngineSpec = {
      dataset: { source: 'builtin:mnist', limit: { train: 100 } },
      teacher: { model_id: 'mdl_onnx' },
      student: { model: { preset: 'mlp-tiny', input_shape: [14, 14, 1] }, training: { epochs: 30, batch_size: 32, learning_rate: 0.01 } },
      distillation: { baseline: true, temperature: 4, alpha: 0.9 },
      seed: MNIST_CNN.seed,
    };
    const { report: r } = await runJob(spec, { onEvent() {}, resolveModel: onnxTeacher });
    assert.equal(r.teacher.origin, 'given');
    assert.equal(r.dataset.test_samples, MNIST_CNN.test_samples);
    assert.ok(
      Math.abs(r.teacher.test_accuracy - MNIST_CNN.test_accuracy) <= 0.001,
      `teacher ${r.teacher.test_accuracy} vs ${MNIST_CNN.test_accuracy} printed by the export script`,
    );
    assert.equal(r.teacher.parameters, MNIST_CNN.parameters);
    assert.equal(r.teacher.bytes, mnistCnnBytes().byteLength, 'bytes of the .onnx file');
    assert.deepEqual(r.teacher.input_shape, [28, 28, 1]);
    assert.ok(r.teacher.latency_ms_per_sample.batch_1 > 0 && r.teacher.latency_ms_per_sample.batch_256 > 0, 'latency measured with onnxruntime');
    assert.ok(r.student.test_accuracy > r.baseline!.test_accuracy, `distilled ${r.student.test_accuracy} vs baseline ${r.baseline!.test_accuracy}`);
    t.diagnostic(
      `teacher ${r.teacher.test_accuracy}, distilled ${r.student.test_accuracy}, baseline ${r.baseline!.test_accuracy}, teacher latency ${JSON.stringify(r.teacher.latency_ms_per_sample)}`,
    );
  });

  it('hint transfer from an ONNX teacher is refused, naming the pair', async () => {
    const spec: EngineSpec = {
      dataset: { source: 'builtin:mnist', limit: { train: 50, test: 50 } },
      teacher: { model_id: 'mdl_onnx' },
      student: { model: { preset: 'cnn-student' }, training: { epochs: 1 } },
      distillation: { method: ['logits', 'hint'], hint: { pairs: [{ student: 'conv1', teacher: 'conv1' }] } },
    };
    await assert.rejects(runJob(spec, { onEvent() {}, resolveModel: onnxTeacher }), (err: unknown) => {
      assert.ok(err instanceof SpecError);
      assert.equal(err.path, '/distillation/hint/pairs/0/teacher');
      assert.match(err.message, /hint transfer needs a tfjs teacher.*ONNX/);
      return true;
    });
  });
});
