// ONNX teachers through the API and the CLI: the PyTorch-exported fixture is uploaded, checked with
// onnxruntime in the upload-check child, distilled into a tfjs student by a real worker; every model a
// teacher cannot be is refused with 400 naming the problem.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { request, waitFor } from '../support/http.js';
import { ELEM, linearClassifier, onnxModel } from '../support/onnx-builder.js';
import { MNIST_CNN, MNIST_CNN_PATH, mnistCnnBytes } from '../support/onnx-fixture.js';
import { startStack, type Stack } from '../support/stack.js';

/** The fixture's declaration as form fields, as a PyTorch user gives it. */
const DECLARED = { layout: 'nchw', mean: MNIST_CNN.mean.join(','), std: MNIST_CNN.std.join(',') };
/** A job distils on a few hundred digits in well under a minute on this machine; ten times that is generous. */
const JOB_DEADLINE_MS = 10 * 60_000;

async function postOnnx(stack: Stack, bytes: Uint8Array, fields: Record<string, string> = DECLARED, field = 'model.onnx') {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append(field, new Blob([new Uint8Array(bytes)]), 'model.onnx');
  const response = await fetch(`${stack.url}/v1/models`, { method: 'POST', body: form, headers: { authorization: `Bearer ${stack.keys.a.key}` } });
  return { status: response.status, body: await response.json() };
}

const finished = (stack: Stack, id: string) =>
  waitFor(
    `job ${id} to end`,
    async () => {
      const { body } = await request(stack.url, 'GET', `/v1/jobs/${id}`);
      return ['succeeded', 'failed', 'cancelled'].includes(body.status) && body;
    },
    JOB_DEADLINE_MS,
    500,
  );

/** The student sees 100 digits of the training split the teacher was trained on; the 2,000 test digits are unseen by both. */
const distilFrom = (teacher: string) => ({
  name: 'from onnx',
  dataset: { source: 'builtin:mnist', limit: { train: 100 } },
  teacher: { model_id: teacher },
  student: { model: { preset: 'mlp-tiny', input_shape: [14, 14, 1] }, training: { epochs: 30, batch_size: 32, learning_rate: 0.01 } },
  distillation: { baseline: true, temperature: 4, alpha: 0.9 },
  seed: MNIST_CNN.seed,
});

describe('ONNX teachers', () => {
  let stack: Stack;
  let uploaded: Record<string, any>;
  const storedModels = async () => (await readdir(join(stack.config.ARTIFACT_DIR, 'models')).catch(() => [] as string[])).sort();

  before(async () => {
    stack = await startStack({ workers: 1 });
  });
  after(async () => {
    await stack.stop();
  });

  test('a torch.onnx.export model uploads with its declared input and is described from its graph', async () => {
    const response = await postOnnx(stack, mnistCnnBytes(), { ...DECLARED, name: 'mnist cnn (pytorch)' });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    uploaded = response.body;
    assert.equal(uploaded.object, 'model');
    assert.equal(uploaded.format, 'onnx');
    assert.equal(uploaded.source, 'uploaded');
    assert.deepEqual(uploaded.input_shape, [28, 28, 1], 'the sample as a dataset holds it');
    assert.deepEqual(uploaded.output_shape, [10]);
    assert.equal(uploaded.parameters, MNIST_CNN.parameters, 'counted from the initializers');
    assert.equal(uploaded.bytes, mnistCnnBytes().byteLength);
    assert.equal(uploaded.sha256, createHash('sha256').update(mnistCnnBytes()).digest('hex'));
    assert.deepEqual(uploaded.onnx, {
      layout: 'nchw',
      scale: 1,
      mean: MNIST_CNN.mean,
      std: MNIST_CNN.std,
      output: 'logits',
      input_name: 'input',
      output_name: 'logits',
      model_input_shape: [1, 28, 28],
      opset: 17,
    });
    assert.equal(uploaded.url, `/v1/models/${uploaded.id}/model.onnx`);
    const file = await fetch(`${stack.url}${uploaded.url}`, { headers: { authorization: `Bearer ${stack.keys.a.key}` } });
    assert.equal(file.status, 200);
    assert.ok(Buffer.from(await file.arrayBuffer()).equals(Buffer.from(mnistCnnBytes())), 'the file downloads as uploaded');
  });

  describe('a model that cannot be a teacher is refused with 400 naming the problem, leaving nothing stored', () => {
    const w = (n: number) => ({ name: 'w', dims: [n, 3], values: new Float32Array(n * 3).fill(0.1) });
    const cases: Array<[string, () => Uint8Array, Record<string, string>, string, RegExp]> = [
      ['bytes that are not ONNX', () => new TextEncoder().encode('not a model at all'), DECLARED, 'unloadable', /not an ONNX model|cannot load/],
      [
        'several inputs',
        () =>
          onnxModel({
            inputs: [
              { name: 'a', dims: ['batch', 4] },
              { name: 'b', dims: ['batch', 4] },
            ],
            outputs: [{ name: 'scores', dims: ['batch', 3] }],
            nodes: [
              { op: 'Add', inputs: ['a', 'b'], outputs: ['ab'] },
              { op: 'MatMul', inputs: ['ab', 'w'], outputs: ['scores'] },
            ],
            initializers: [w(4)],
          }),
        {},
        'several_inputs',
        /has 2 inputs \(a, b\): a teacher reads one input tensor/,
      ],
      [
        'an integer input',
        () =>
          onnxModel({
            inputs: [{ name: 'tokens', elem: ELEM.int64, dims: ['batch', 4] }],
            outputs: [{ name: 'scores', dims: ['batch', 3] }],
            nodes: [
              { op: 'Cast', inputs: ['tokens'], outputs: ['x'], ints: { to: ELEM.float } },
              { op: 'MatMul', inputs: ['x', 'w'], outputs: ['scores'] },
            ],
            initializers: [w(4)],
          }),
        {},
        'non_float_input',
        /input tokens holds int64 values: a teacher reads float32/,
      ],
      [
        'an opset onnxruntime does not run',
        () => linearClassifier(4, 3, { opset: 99 }),
        {},
        'unsupported_opset',
        /uses ONNX opset 99; the server's onnxruntime runs opsets 7 to 26/,
      ],
      [
        'an input shape no dataset has (samples of rank 4)',
        () =>
          onnxModel({
            inputs: [{ name: 'volume', dims: ['batch', 2, 3, 4, 5] }],
            outputs: [{ name: 'scores', dims: ['batch', 3] }],
            nodes: [
              { op: 'Flatten', inputs: ['volume'], outputs: ['x'], ints: { axis: 1 } },
              { op: 'MatMul', inputs: ['x', 'w'], outputs: ['scores'] },
            ],
            initializers: [w(120)],
          }),
        {},
        'unsupported_shape',
        /shape \[batch, 2, 3, 4, 5\]: no dataset has samples of rank 4/,
      ],
      [
        'a batch dimension fixed at 8',
        () => linearClassifier(4, 3, { inputs: [{ name: 'x', dims: [8, 4] }], outputs: [{ name: 'scores', dims: [8, 3] }] }),
        {},
        'fixed_batch',
        /batch\) dimension is fixed at 8: export with a dynamic batch axis/,
      ],
      [
        'two outputs',
        () =>
          linearClassifier(4, 3, {
            outputs: [
              { name: 'scores', dims: ['batch', 3] },
              { name: 'copy', dims: ['batch', 3] },
            ],
            nodes: [
              { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
              { op: 'Add', inputs: ['xw', 'b'], outputs: ['scores'] },
              { op: 'Identity', inputs: ['scores'], outputs: ['copy'] },
            ],
          }),
        {},
        'several_outputs',
        /has 2 outputs \(scores, copy\): a teacher has one output of class scores/,
      ],
      [
        'an output that is not class scores per sample',
        () =>
          linearClassifier(4, 3, {
            outputs: [{ name: 'mean', dims: [] }],
            nodes: [
              { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
              { op: 'Add', inputs: ['xw', 'b'], outputs: ['scores'] },
              { op: 'ReduceMean', inputs: ['scores'], outputs: ['mean'], ints: { keepdims: 0 } },
            ],
          }),
        {},
        'not_class_scores',
        /output mean has shape \[\]: a teacher outputs \[batch, classes\]/,
      ],
      [
        'a mean for three channels on a one-channel model',
        () => mnistCnnBytes(),
        { layout: 'nchw', mean: '0.5,0.5,0.5' },
        'declaration_mismatch',
        /mean gives 3 values but the model's input has 1 channels/,
      ],
      ['an unknown layout', () => mnistCnnBytes(), { layout: 'chwn' }, 'invalid_layout', /layout must be nchw or nhwc \(got "chwn"\)/],
      ['a std of zero', () => mnistCnnBytes(), { std: '0' }, 'invalid_std', /std must be positive numbers/],
    ];
    for (const [name, bytes, fields, reason, detail] of cases) {
      test(name, async () => {
        const response = await postOnnx(stack, bytes(), fields);
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.reason, reason, JSON.stringify(response.body));
        assert.match(response.body.detail, detail);
      });
    }
    test('nothing of them was stored', async () => {
      assert.deepEqual(
        (await stack.db.model.findMany({ select: { id: true } })).map((m) => m.id),
        [uploaded.id],
      );
      assert.deepEqual(await storedModels(), [uploaded.id]);
    });
  });

  test('hint transfer with an ONNX teacher is refused at submission, naming the pair', async () => {
    const body = {
      ...distilFrom(uploaded.id),
      student: { model: { preset: 'cnn-student' } },
      distillation: { method: ['logits', 'hint'], hint: { pairs: [{ student: 'conv1', teacher: 'conv1' }] } },
    };
    const response = await request(stack.url, 'POST', '/v1/jobs', body);
    assert.equal(response.status, 400, JSON.stringify(response.body));
    const problem = response.body.errors.find((e: { field: string }) => e.field === '/distillation/hint/pairs/0/teacher');
    assert.match(problem?.message ?? '', /hint transfer needs a tfjs teacher: teacher 0 \(mdl_\w+\) is an ONNX model/);
  });

  test('a job distils it into a tfjs student: the teacher scores what the export script printed, the student beats its baseline', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', distilFrom(uploaded.id));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await finished(stack, created.body.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const r = job.result;
    assert.equal(r.teacher.origin, 'given');
    assert.equal(r.dataset.test_samples, MNIST_CNN.test_samples);
    assert.ok(
      Math.abs(r.teacher.test_accuracy - MNIST_CNN.test_accuracy) <= 0.001,
      `server ${r.teacher.test_accuracy}, export script ${MNIST_CNN.test_accuracy}`,
    );
    assert.equal(r.teacher.parameters, MNIST_CNN.parameters);
    assert.equal(r.teacher.bytes, uploaded.bytes);
    assert.ok(r.student.test_accuracy > r.baseline.test_accuracy, `distilled ${r.student.test_accuracy} vs baseline ${r.baseline.test_accuracy}`);
    const registered = (await request(stack.url, 'GET', `/v1/models?source_job=${created.body.id}`)).body.data;
    assert.deepEqual(
      registered.map((m: { role: string }) => m.role),
      ['student'],
      'the given teacher is not registered again',
    );
  });

  test('the CLI uploads it (distill models upload model.onnx --layout nchw --mean … --std …) and a job in `teachers` uses it', async () => {
    const env = { DISTILL_URL: stack.url, DISTILL_API_KEY: stack.keys.a.key };
    const run = await runCli(
      ['models', 'upload', MNIST_CNN_PATH.pathname, '--layout', 'nchw', '--mean', DECLARED.mean, '--std', DECLARED.std, '--name', 'from the cli'],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^mdl_\w+$/);
    assert.match(run.stderr, /reads nchw \[1, 28, 28\] \(samples of shape \[28, 28, 1\]\), outputs 10 classes; 27,562 parameters/);
    const refused = await runCli(['models', 'upload', MNIST_CNN_PATH.pathname, '--layout', 'sideways'], env);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /layout must be nchw or nhwc/);

    const body = {
      ...distilFrom(id),
      teachers: [{ model_id: id }],
      teacher: undefined,
      distillation: { temperature: 4, alpha: 0.9 },
      student: { ...distilFrom(id).student, training: { epochs: 3 } },
    };
    const created = await request(stack.url, 'POST', '/v1/jobs', body);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await finished(stack, created.body.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.ok(Math.abs(job.result.teacher.test_accuracy - MNIST_CNN.test_accuracy) <= 0.001);
  });
});
