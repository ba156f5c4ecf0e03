// A job on MNIST with a CNN student asked for tfjs + ONNX and both quantizations: every file loads and
// predicts (tfjs, onnxruntime-node) within the tolerances, and the report has a row per variant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitDataset } from '../../src/ml/data/prepare.js';
import { loadMnist } from '../../src/ml/data/mnist.js';
import { adaptInputs } from '../../src/ml/data/adapt.js';
import { openOnnx, runOnnx } from '../../src/ml/export/onnx-run.js';
import { argmaxRows, compareOutputs } from '../../src/ml/export/onnx-verify.js';
import { artifactsToModel } from '../../src/ml/models/serialize.js';
import { runJob, tf } from '../../src/ml/index.js';
import { checkSpec } from '../../src/ml/spec-check.js';
import type { EngineSpec } from '../../src/ml/spec.js';
import { collect } from './helpers.js';
import { Contract } from '../support/openapi.js';

const spec: EngineSpec = {
  dataset: { source: 'builtin:mnist', limit: { train: 1200, test: 400 } },
  teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 1, batch_size: 64 } },
  student: { model: { preset: 'cnn-student', input_shape: [16, 16, 1] }, training: { epochs: 1, batch_size: 64 } },
  distillation: { baseline: true },
  export: { formats: ['tfjs', 'onnx'], quantize: ['float16', 'uint8'] },
};

describe('job exports', () => {
  it('refuses an unknown format or quantization, naming the field', () => {
    const bad = (e: unknown) => checkSpec({ ...spec, export: e }).map((p) => p.path);
    assert.deepEqual(bad({ formats: ['tflite'] }), ['/export/formats/0']);
    assert.deepEqual(bad({ quantize: ['int4'] }), ['/export/quantize/0']);
    assert.deepEqual(bad({ formats: ['onnx'], extra: 1 }), ['/export']);
    assert.deepEqual(bad({ formats: ['onnx', 'onnx'] }), ['/export/formats']);
  });

  it('a CNN student on MNIST yields tfjs, ONNX and both quantized variants that load and agree', async () => {
    const { onEvent } = collect();
    const outcome = await runJob(spec, { onEvent, backend: 'wasm' });
    const files = new Map((outcome.exports ?? []).map((f) => [`${f.kind}/${f.file}`, f.data]));
    assert.deepEqual([...files.keys()].sort(), [
      'baseline/model.onnx',
      'student-float16/model.json',
      'student-float16/model.onnx',
      'student-float16/weights.bin',
      'student-uint8/model.json',
      'student-uint8/model.onnx',
      'student-uint8/weights.bin',
      'student/model.onnx',
      'teacher/model.onnx',
    ]);

    // The job's own test split, at the student's 16×16.
    const split = splitDataset(await loadMnist(), { seed: 42, validationFraction: 0.1, testFraction: 0.2, limit: { train: 1200, test: 400 } });
    const x = adaptInputs(tf.tensor(split.test.x, [split.test.y.length, 28, 28, 1]), [16, 16, 1]);
    const xValues = (await x.data()) as Float32Array;
    const student = await artifactsToModel(outcome.models.student);
    const reference = (await (student.predict(x) as tf.Tensor).data()) as Float32Array;
    const session = await openOnnx(files.get('student/model.onnx')!);
    const onnx = await runOnnx(session, xValues, [16, 16, 1]);
    const c = compareOutputs(reference, onnx.values, 10);
    assert.ok(c.within, `float ONNX: max |Δ| ${c.maxAbsDiff} of ${c.maxAbs}, argmax ${c.argmaxAgreement}`);

    for (const kind of ['float16', 'uint8'] as const) {
      const quantized = await artifactsToModel({
        modelJson: JSON.parse(new TextDecoder().decode(files.get(`student-${kind}/model.json`)!)),
        weights: files.get(`student-${kind}/weights.bin`)!,
      });
      const tfjsOut = (await (quantized.predict(x) as tf.Tensor).data()) as Float32Array;
      const exact = await openOnnx(files.get(`student-${kind}/model.onnx`)!, 'exact');
      const onnxOut = await runOnnx(exact, xValues, [16, 16, 1]);
      const q = compareOutputs(tfjsOut, onnxOut.values, 10);
      assert.ok(q.within, `${kind}: ONNX vs tfjs max |Δ| ${q.maxAbsDiff} of ${q.maxAbs}`);
      const agreement = compareOutputs(reference, tfjsOut, 10).argmaxAgreement;
      assert.ok(agreement >= 0.97, `${kind} agrees with the float student on ${agreement}`);
      await exact.release();
      quantized.dispose();
    }

    // The report as the API serves it (job.result, report.json) is what openapi.yaml documents.
    new Contract().assertValid('Report', JSON.parse(JSON.stringify(outcome.report)), 'report with exports');
    const r = outcome.report.exports!;
    assert.deepEqual(r.formats, ['tfjs', 'onnx']);
    assert.equal(r.onnx_opset, 13);
    assert.deepEqual(
      r.onnx_checks.map((k) => k.kind),
      ['teacher', 'student', 'baseline'],
    );
    assert.deepEqual(
      r.variants.map((v) => `${v.artifact}:${v.runtime}`),
      ['student:tfjs', 'student:onnxruntime', 'student-float16:tfjs', 'student-float16:onnxruntime', 'student-uint8:tfjs', 'student-uint8:onnxruntime'],
    );
    const studentRow = r.variants[0]!;
    assert.equal(studentRow.test_accuracy, outcome.report.student.test_accuracy, 'the float row is the student the report scores');
    assert.equal(studentRow.agreement_with_float, 1);
    const studentClasses = argmaxRows(reference, 10);
    const acc = studentClasses.reduce((n, p, i) => n + (p === split.test.y[i] ? 1 : 0), 0) / split.test.y.length;
    assert.ok(Math.abs(r.variants[1]!.test_accuracy - acc) <= 0.005, 'the ONNX row scores the same classifier');
    for (const v of r.variants) {
      assert.equal(v.bytes, v.file === 'model.onnx' ? files.get(`${v.artifact}/model.onnx`)!.byteLength : v.bytes);
      for (const b of ['batch_1', 'batch_256'] as const) {
        const l = v.latency_ms_per_sample[b];
        assert.ok(l.p25 <= l.median && l.median <= l.p75 && l.runs >= 9, `${v.artifact}:${v.runtime} ${b} ${JSON.stringify(l)}`);
      }
      if (v !== studentRow) assert.ok(v.latency_vs_float && ['faster', 'slower', 'within noise'].includes(v.latency_vs_float.batch_1));
    }
    const uint8 = r.variants.find((v) => v.artifact === 'student-uint8' && v.runtime === 'tfjs')!;
    assert.ok(uint8.bytes < studentRow.bytes * 0.5, 'the 8-bit student is far smaller');
    await session.release();
    tf.dispose([x]);
    student.dispose();
  });
});
