import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { followJob, request, waitFor } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { type S3Server, startS3Server } from '../support/s3-server.js';
import { startStack, type Stack } from '../support/stack.js';

describe('a job from submission to a downloaded student', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 1 });
  });
  after(() => stack.stop());

  test('the socket shows phases and metrics in order, the job succeeds, and the student loads and predicts', () => runsAndLoads(stack));

  test('events are listed over REST with cursor pagination', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    await waitFor('job to finish', async () => {
      const job = await request(stack.url, 'GET', `/v1/jobs/${created.body.id}`);
      return ['succeeded', 'failed'].includes(job.body.status) && job.body;
    });
    const all = (await request(stack.url, 'GET', `/v1/jobs/${created.body.id}/events?limit=1000`)).body;
    assert.equal(all.object, 'list');
    assert.equal(all.has_more, false);
    const page = (await request(stack.url, 'GET', `/v1/jobs/${created.body.id}/events?after=2&limit=3`)).body;
    assert.deepEqual(
      page.data.map((e: { seq: number }) => e.seq),
      [3, 4, 5],
    );
    assert.equal(page.has_more, true);
    assert.deepEqual(page.data, all.data.slice(2, 5));
  });

  test('jobs are listed newest first with cursor pagination and a status filter', async () => {
    const list = (await request(stack.url, 'GET', '/v1/jobs?limit=1')).body;
    assert.equal(list.object, 'list');
    assert.equal(list.data.length, 1);
    assert.equal(list.has_more, true);
    const next = (await request(stack.url, 'GET', `/v1/jobs?limit=1&after=${list.data[0].id}`)).body;
    assert.equal(next.data.length, 1);
    assert.ok(next.data[0].id < list.data[0].id);
    const succeeded = (await request(stack.url, 'GET', '/v1/jobs?status=succeeded')).body;
    assert.ok(succeeded.data.length >= 2);
    assert.ok(succeeded.data.every((j: { status: string }) => j.status === 'succeeded'));
  });
});

/** The README's promise: submit, follow, download through the API, and `tf.loadLayersModel(url)` with the key. */
async function runsAndLoads(stack: Stack): Promise<void> {
  const created = await request(stack.url, 'POST', '/v1/jobs', {
    ...QUICK_JOB,
    distillation: { ...QUICK_JOB.distillation, baseline: true },
    metadata: { team: 'vision' },
  });
  assert.equal(created.status, 201);
  assert.match(created.body.id, /^job_[0-9a-z]{26}$/);
  assert.equal(created.body.object, 'job');
  assert.equal(created.body.status, 'queued');
  assert.deepEqual(created.body.metadata, { team: 'vision' });
  assert.equal(created.headers.get('location'), `/v1/jobs/${created.body.id}`);

  const ws = await followJob(stack.wsUrl, created.body.id);
  const close = await ws.closed;
  assert.equal(close.code, 1000, 'the socket closes normally after the terminal event');

  const seqs = ws.events.map((e) => e.seq);
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
    'every event from 1, in order, no gap, no duplicate',
  );
  const last = ws.events.at(-1)!;
  assert.equal(last.type, 'status');
  assert.equal(last.data.status, 'succeeded');
  const phases = ws.events.filter((e) => e.type === 'phase').map((e) => e.data.phase);
  const expected = ['preparing_data', 'training_teacher', 'computing_soft_targets', 'distilling', 'training_baseline', 'evaluating', 'saving'];
  assert.deepEqual(
    phases.filter((p) => expected.includes(p as string)),
    expected.filter((p) => phases.includes(p)),
  );
  for (const phase of ['training_teacher', 'distilling', 'training_baseline', 'evaluating']) assert.ok(phases.includes(phase), `phase ${phase} seen`);
  const metrics = ws.events.filter((e) => e.type === 'metrics');
  assert.ok(metrics.length > 0, 'metrics samples streamed');
  assert.ok(
    metrics.some((m) => m.data.phase === 'distilling' && typeof m.data.kd === 'number'),
    'distillation metrics carry the KD term',
  );
  assert.ok(
    ws.events.some((e) => e.type === 'epoch'),
    'epoch summaries streamed',
  );

  const job = (await request(stack.url, 'GET', `/v1/jobs/${created.body.id}`)).body;
  assert.equal(job.status, 'succeeded');
  assert.equal(job.attempts, 1);
  assert.equal(job.backend, 'wasm');
  assert.equal(job.progress.percent, 100);
  assert.ok(job.finished_at && job.started_at);
  assert.ok(job.result.student.test_accuracy > 0.5, `student accuracy ${job.result.student.test_accuracy} is well above chance (0.25)`);
  assert.ok(job.result.baseline, 'the baseline was trained');

  const artifacts = (await request(stack.url, 'GET', `/v1/jobs/${job.id}/artifacts`)).body;
  const kinds = new Set(artifacts.data.map((a: { kind: string }) => a.kind));
  for (const kind of ['student', 'teacher', 'baseline', 'report']) assert.ok(kinds.has(kind), `${kind} artifact listed`);

  const report = await request(stack.url, 'GET', `/v1/jobs/${job.id}/artifacts/report/report.json`);
  assert.equal(report.status, 200);
  assert.equal(report.body.student.test_accuracy, job.result.student.test_accuracy);

  await tf.setBackend('cpu');
  // tfjs fetches weights.bin itself, relative to model.json, with the same headers.
  const model = await tf.loadLayersModel(`${stack.url}/v1/jobs/${job.id}/artifacts/student/model.json`, {
    requestInit: { headers: { authorization: `Bearer ${stack.keys.a.key}` } },
  });
  assert.equal(model.outputs[0]!.shape.at(-1), 4);
  const inputs = tf.randomNormal([8, 16]);
  const predictions = model.predict(inputs) as tf.Tensor;
  assert.deepEqual(predictions.shape, [8, 4]);
  tf.dispose([inputs, predictions]);
}

describe('the same job with ARTIFACT_STORE=s3 (a real RADOS Gateway): downloads stream from the bucket through the API', () => {
  let s3: S3Server;
  let stack: Stack;
  before(async () => {
    s3 = await startS3Server();
    await s3.createBucket('lifecycle');
    stack = await startStack({ workers: 1, env: s3.env('lifecycle', 'distill/') });
  });
  after(async () => {
    await stack?.stop();
    await s3?.stop();
  });

  test('the job succeeds and tf.loadLayersModel loads its student from the bucket through the API', () => runsAndLoads(stack));
});
