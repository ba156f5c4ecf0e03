import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadMnist } from '../../src/ml/data/mnist.js';
import { request, waitFor } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const MAX_UPLOAD_BYTES = 2_000_000;

/** A digit classifier trained here, as a platform would bring one: 28×28×1 in, 10 logits out. */
async function trainTeacher(): Promise<tf.LayersModel> {
  await tf.setBackend('cpu');
  const mnist = loadMnist();
  const n = 2000;
  const picked = Array.from({ length: n }, (_, i) => Math.floor((i * mnist.train.y.length) / n));
  const x = tf.tensor4d(Float32Array.from(picked.flatMap((i) => Array.from(mnist.train.x.subarray(i * 784, (i + 1) * 784)))), [n, 28, 28, 1]);
  const y = tf.oneHot(
    tf.tensor1d(
      picked.map((i) => mnist.train.y[i]!),
      'int32',
    ),
    10,
  );
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const optimizer = tf.train.adam(0.005);
  for (let epoch = 0; epoch < 8; epoch++) {
    for (let start = 0; start < n; start += 100) {
      tf.tidy(() => {
        const xb = x.slice(start, 100);
        const yb = y.slice(start, 100);
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yb, model.apply(xb) as tf.Tensor) as tf.Scalar);
      });
    }
  }
  tf.dispose([x, y]);
  optimizer.dispose();
  return model;
}

/** model.json and weights.bin as tfjs writes them (weightsManifest naming `weights.bin`). */
async function filesOf(model: tf.LayersModel): Promise<{ json: Record<string, any>; weights: Buffer }> {
  let out: { json: Record<string, any>; weights: Buffer } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = tf.io.concatenateArrayBuffers(Array.isArray(a.weightData) ? a.weightData : [a.weightData!]);
      out = {
        json: {
          format: 'layers-model',
          generatedBy: 'test',
          convertedBy: null,
          modelTopology: a.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
        },
        weights: Buffer.from(data),
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out!;
}

async function postForm(stack: Stack, files: Array<[string, Buffer | string, string]>, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [field, bytes, filename] of files) form.append(field, new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), filename);
  const response = await fetch(`${stack.url}/v1/models`, { method: 'POST', body: form, headers: { authorization: `Bearer ${stack.keys.a.key}` } });
  const text = await response.text();
  return { status: response.status, body: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

const finished = (stack: Stack, id: string) =>
  waitFor(
    `job ${id} to end`,
    async () => {
      const { body } = await request(stack.url, 'GET', `/v1/jobs/${id}`);
      return ['succeeded', 'failed', 'cancelled'].includes(body.status) && body;
    },
    180_000,
    500,
  );

/** Distils `teacher` (a model id) into a small MLP on 1,500 real digits. */
const jobWithTeacher = (teacher: string, name: string) => ({
  name,
  dataset: { source: 'builtin:mnist', limit: { train: 1500, test: 500 } },
  teacher: { model_id: teacher },
  student: {
    model: { layers: [{ type: 'flatten' }, { type: 'dense', units: 32, activation: 'relu' }, { type: 'dense', units: 10 }], input_shape: [14, 14, 1] },
    training: { epochs: 3, learning_rate: 0.01 },
  },
  distillation: { temperature: 4, alpha: 0.7 },
  seed: 3,
});

describe('models: uploaded teachers, job lineage, downloads, deletion', () => {
  let stack: Stack;
  let teacher: tf.LayersModel;
  let uploaded: Record<string, any>;
  const jobs: Record<string, string> = {};
  const auth = () => ({ requestInit: { headers: { authorization: `Bearer ${stack.keys.a.key}` } } });
  const storedModels = async () => (await readdir(join(stack.config.ARTIFACT_DIR, 'models')).catch(() => [] as string[])).sort();

  before(async () => {
    // Trained before the API starts in this process: training blocks the event loop, which the API's
    // load shedding would answer with 503s.
    teacher = await trainTeacher();
    // No worker at first: a job stays queued, so deleting its teacher is refused deterministically.
    // This process also runs tfjs for the test (predictions, loading): no load shedding on event-loop lag.
    stack = await startStack({ workers: 0, env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) } });
  });
  after(async () => {
    teacher?.dispose();
    await stack.stop();
  });

  test('a teacher saved with model.save(tf.io.http(…/v1/models)) is checked, stored and described', async () => {
    const saved = await teacher.save(tf.io.http(`${stack.url}/v1/models`, auth()));
    const response = saved.responses![0]!;
    assert.equal(response.status, 201);
    uploaded = await response.json();
    assert.match(uploaded.id, /^mdl_[0-9a-z]{26}$/);
    assert.equal(uploaded.object, 'model');
    assert.equal(uploaded.source, 'uploaded');
    assert.equal(uploaded.source_job, null);
    assert.deepEqual(uploaded.input_shape, [28, 28, 1]);
    assert.deepEqual(uploaded.output_shape, [10]);
    assert.equal(uploaded.parameters, teacher.countParams());
    assert.ok(uploaded.bytes > teacher.countParams() * 4, 'weights plus model.json');
    assert.match(uploaded.sha256, /^[0-9a-f]{64}$/);
    assert.equal(uploaded.url, `/v1/models/${uploaded.id}/model.json`);
    assert.deepEqual(await storedModels(), [uploaded.id]);
  });

  test('its model.json and weights download and load with tf.loadLayersModel, predicting as the original', async () => {
    const loaded = await tf.loadLayersModel(`${stack.url}${uploaded.url}`, auth());
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 1);
    const [a, b] = [teacher.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! < 1e-5, 'the same predictions');
    tf.dispose([x, a, b]);
    loaded.dispose();
    const listed = (await request(stack.url, 'GET', '/v1/models?source=uploaded')).body;
    assert.deepEqual(
      listed.data.map((m: { id: string }) => m.id),
      [uploaded.id],
    );
    const anonymous = await fetch(`${stack.url}${uploaded.url}`);
    assert.equal(anonymous.status, 401);
  });

  describe('a refused model answers 400 naming the problem and leaves no row and no file', () => {
    let files: { json: Record<string, any>; weights: Buffer };
    before(async () => {
      files = await filesOf(teacher);
    });
    const cases: Array<[string, () => Array<[string, Buffer | string, string]>, number, string, RegExp]> = [
      [
        'model.json without its weights',
        () => [['model.json', JSON.stringify(files.json), 'model.json']],
        400,
        'missing_weights',
        /names "weights\.bin", which was not uploaded/,
      ],
      [
        'weights of the wrong size',
        () => [
          ['model.json', JSON.stringify(files.json), 'model.json'],
          ['weights', files.weights.subarray(0, 1000), 'weights.bin'],
        ],
        400,
        'weights_size_mismatch',
        /"weights\.bin" holds 1000 bytes, but the weights model\.json lists for it \(.*\) need 203560/,
      ],
      // The multipart parser keeps only the last part of a client's path; it is matched, never stored.
      [
        'a weight file the manifest does not name',
        () => [
          ['model.json', JSON.stringify(files.json), 'model.json'],
          ['weights', files.weights, 'weights.bin'],
          ['extra', 'x', '../../etc/passwd'],
        ],
        400,
        'unexpected_file',
        /^"passwd" is not named in model\.json's weightsManifest/,
      ],
      ['no model.json', () => [['weights', files.weights, 'weights.bin']], 400, 'missing_model_json', /no model\.json/],
      ['model.json that is not JSON', () => [['model.json', '{"format":', 'model.json']], 400, 'invalid_json', /not valid JSON/],
      [
        'a graph model',
        () => [
          ['model.json', JSON.stringify({ ...files.json, format: 'graph-model' }), 'model.json'],
          ['weights', files.weights, 'weights.bin'],
        ],
        400,
        'not_layers_model',
        /format "graph-model"/,
      ],
      [
        'a topology tfjs cannot build',
        () => [
          [
            'model.json',
            JSON.stringify({ ...files.json, modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'NoSuchLayer', config: {} }] } } }),
            'model.json',
          ],
          ['weights', files.weights, 'weights.bin'],
        ],
        400,
        'unloadable',
        /does not load as a tfjs layers model/,
      ],
      [
        'an oversized upload',
        () => [
          ['model.json', JSON.stringify(files.json), 'model.json'],
          ['weights', Buffer.alloc(MAX_UPLOAD_BYTES + 1), 'weights.bin'],
        ],
        413,
        'upload_too_large',
        /MAX_UPLOAD_BYTES/,
      ],
    ];
    for (const [name, parts, status, reason, detail] of cases) {
      test(name, async () => {
        const response = await postForm(stack, parts());
        assert.equal(response.status, status, JSON.stringify(response.body));
        assert.ok(response.body.code === reason || response.body.reason === reason, `code or reason ${reason}: ${JSON.stringify(response.body)}`);
        assert.match(response.body.detail, detail);
      });
    }
    test('nothing of them was stored', async () => {
      assert.deepEqual(
        (await stack.db.model.findMany({ select: { id: true } })).map((m) => m.id),
        [uploaded.id],
      );
      assert.deepEqual(await storedModels(), [uploaded.id]);
      assert.deepEqual(await readdir(join(stack.config.ARTIFACT_DIR, 'models', uploaded.id)), ['model.json', 'weights.bin']);
    });
  });

  test('a job whose teacher does not fit the dataset is refused naming both shapes', async () => {
    const body = {
      ...jobWithTeacher(uploaded.id, 'misfit'),
      dataset: { source: 'builtin:synthetic', options: { classes: 4, features: 10 } },
      student: QUICK_JOB.student,
    };
    const response = await request(stack.url, 'POST', '/v1/jobs', body);
    assert.equal(response.status, 400, JSON.stringify(response.body));
    const messages = response.body.errors.filter((e: { field: string }) => e.field === '/teacher/model_id').map((e: { message: string }) => e.message);
    assert.ok(
      messages.some((m: string) => /outputs shape \[10\] but builtin:synthetic has 4 classes \(output shape \[4\]\)/.test(m)),
      JSON.stringify(messages),
    );
    assert.ok(
      messages.some((m: string) => /reads inputs of shape \[28,28,1\], which samples of builtin:synthetic \(shape \[10\]\) cannot be resized to/.test(m)),
      JSON.stringify(messages),
    );
    const unknown = await request(stack.url, 'POST', '/v1/jobs', jobWithTeacher('mdl_00000000000000000000000000', 'unknown'));
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.detail, /\/teacher\/model_id: model mdl_0{26} does not exist/);
  });

  test('an uploaded teacher is distilled by a job, and cannot be deleted while the job is queued', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', jobWithTeacher(uploaded.id, 'from upload'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    jobs.first = created.body.id;
    const refused = await request(stack.url, 'DELETE', `/v1/models/${uploaded.id}`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'model_in_use');
    assert.deepEqual(refused.body.jobs, [jobs.first]);

    await stack.startWorker();
    const job = await finished(stack, jobs.first!);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.ok(job.result.teacher.test_accuracy > 0.7, `the uploaded teacher's accuracy ${job.result.teacher.test_accuracy}`);
    assert.ok(job.result.student.test_accuracy > 0.5, `student accuracy ${job.result.student.test_accuracy}`);
  });

  test('the job registered its student with lineage, and that student teaches a second job', async () => {
    const registered = (await request(stack.url, 'GET', `/v1/models?source_job=${jobs.first}`)).body.data;
    assert.deepEqual(
      registered.map((m: { role: string }) => m.role),
      ['student'],
      'a given teacher is not registered again',
    );
    const student = registered[0];
    assert.equal(student.source, 'job');
    assert.equal(student.source_job, jobs.first);
    assert.deepEqual(student.input_shape, [14, 14, 1]);
    assert.deepEqual(student.output_shape, [10]);
    assert.equal(student.parameters, 14 * 14 * 32 + 32 + 32 * 10 + 10);
    const loaded = await tf.loadLayersModel(`${stack.url}${student.url}`, auth());
    assert.deepEqual(loaded.outputs[0]!.shape, [null, 10]);
    loaded.dispose();

    const second = await request(stack.url, 'POST', '/v1/jobs', {
      ...jobWithTeacher(student.id, 'teacher assistant'),
      student: { model: { preset: 'linear', input_shape: [7, 7, 1] }, training: { epochs: 3, learning_rate: 0.02 } },
    });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    jobs.second = second.body.id;
    const job = await finished(stack, jobs.second!);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const chained = (await request(stack.url, 'GET', `/v1/models?source_job=${jobs.second}`)).body.data;
    assert.equal(chained.length, 1);
    assert.deepEqual(chained[0].input_shape, [7, 7, 1]);
  });

  test('a job that trains its teacher registers the teacher too', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    const job = await finished(stack, created.body.id);
    assert.equal(job.status, 'succeeded');
    const registered = (await request(stack.url, 'GET', `/v1/models?source_job=${job.id}`)).body.data;
    assert.deepEqual(registered.map((m: { role: string }) => m.role).sort(), ['student', 'teacher']);
    for (const m of registered) assert.deepEqual(m.output_shape, [4]);
    const jobModels = (await request(stack.url, 'GET', '/v1/models?source=job&limit=2')).body;
    assert.equal(jobModels.data.length, 2);
    assert.equal(jobModels.has_more, true);
  });

  test('another tenant sees none of them; malformed ids are 404', async () => {
    const b = { authorization: `Bearer ${stack.keys.b.key}` };
    assert.deepEqual((await request(stack.url, 'GET', '/v1/models', undefined, b)).body.data, []);
    for (const path of [`/v1/models/${uploaded.id}`, `/v1/models/${uploaded.id}/model.json`, `/v1/models/${uploaded.id}/weights.bin`]) {
      assert.equal((await request(stack.url, 'GET', path, undefined, b)).status, 404, path);
    }
    assert.equal((await request(stack.url, 'DELETE', `/v1/models/${uploaded.id}`, undefined, b)).status, 404);
    for (const path of ['/v1/models/nope', '/v1/models/ds_01m8g85xb1pmddbr7trj3zasr8/model.json', `/v1/models/${uploaded.id}/..%2F..%2Fsecret`]) {
      const response = await request(stack.url, 'GET', path);
      assert.ok([400, 404].includes(response.status), `${path}: ${response.status}`);
    }
  });

  test("deleting: an uploaded model takes its files; a job's model leaves the job's artifacts", async () => {
    const deleted = await request(stack.url, 'DELETE', `/v1/models/${uploaded.id}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(deleted.body, { id: uploaded.id, object: 'model', deleted: true });
    assert.equal((await request(stack.url, 'GET', `/v1/models/${uploaded.id}`)).status, 404);
    assert.deepEqual(await storedModels(), []);

    const [student] = (await request(stack.url, 'GET', `/v1/models?source_job=${jobs.first}`)).body.data;
    assert.equal((await request(stack.url, 'DELETE', `/v1/models/${student.id}`)).status, 200);
    const artifact = await request(stack.url, 'GET', `/v1/jobs/${jobs.first}/artifacts/student/model.json`);
    assert.equal(artifact.status, 200, 'the job still serves its student');
  });
});
