/**
 * What must hold after any fault, checked against Postgres (the truth), the artifact store and BullMQ:
 *
 * 1. no job acknowledged with 201 is lost: each exists and is readable over the API;
 * 2. every job ends in exactly one terminal state: its status is terminal, its stream holds exactly one
 *    terminal status event, that event is the last one and names the job's status;
 * 3. per job, the event sequence is 1..n with no gap and no duplicate, n = the job's last_event_seq;
 * 4. attempts are claimed in order: the `running` status events name attempts 1..job.attempts;
 * 5. a succeeded job's result is written once, by one attempt: artifacts rows only of the attempt named
 *    by the terminal event, one per (kind, file); each file exists in ARTIFACT_DIR with the recorded size
 *    and sha256; report.json is the job's result; the student (and every other model) loads with tfjs;
 *    a failed or cancelled job has no artifacts;
 * 6. BullMQ never completed a job whose result is not stored: a job BullMQ calls completed succeeded.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../../src/db/client.js';
import { isTerminal } from '../../src/jobs/status.js';
import { request } from '../support/http.js';

export interface InvariantTarget {
  /** Base URL of a running API; requests carry the default key set for it. */
  url: string;
  db: Db;
  redis: Redis;
  config: { ARTIFACT_DIR: string; QUEUE_NAME: string };
}

export interface JobSummary {
  id: string;
  status: string;
  attempts: number;
  events: number;
  /** The attempt whose result was stored (succeeded jobs). */
  resultAttempt?: number;
}

/**
 * Checks every invariant for the jobs acknowledged with 201 (`ids`). `expected` names the terminal
 * status (or statuses) a job may have (default: succeeded for all). Returns a short summary per job for the log.
 */
export async function checkInvariants(target: InvariantTarget, ids: string[], expected: Record<string, string | string[]> = {}): Promise<JobSummary[]> {
  assert.equal(new Set(ids).size, ids.length, 'each acknowledged job has its own id');
  const queue = new Queue(target.config.QUEUE_NAME, { connection: target.redis });
  try {
    const summaries: JobSummary[] = [];
    for (const id of ids) summaries.push(await checkJob(target, queue, id, expected[id] ?? 'succeeded'));
    return summaries;
  } finally {
    await queue.close();
  }
}

async function checkJob(target: InvariantTarget, queue: Queue, id: string, expectedStatus: string | string[]): Promise<JobSummary> {
  const { db } = target;
  // 1. Not lost.
  const job = await db.job.findUnique({ where: { id } });
  assert.ok(job, `job ${id} was acknowledged with 201 and must exist`);
  const overApi = await request(target.url, 'GET', `/v1/jobs/${id}`);
  assert.equal(overApi.status, 200, `GET /v1/jobs/${id}: ${JSON.stringify(overApi.body)}`);
  assert.equal(overApi.body.status, job.status, `${id}: the API shows the stored status`);

  // 2. Exactly one terminal state.
  assert.ok(isTerminal(job.status), `${id} ended (status ${job.status})`);
  const events = await db.jobEvent.findMany({ where: { jobId: id }, orderBy: { seq: 'asc' } });
  const where = `${id} events ${events.map((e) => `${e.seq}:${e.type}${e.type === 'status' ? `=${(e.data as { status?: string }).status}` : ''}`).join(' ')}`;
  const statuses = events.filter((e) => e.type === 'status').map((e) => ({ seq: e.seq, ...(e.data as { status: string; attempt?: number; reason?: string }) }));
  const terminal = statuses.filter((s) => isTerminal(s.status));
  assert.equal(terminal.length, 1, `${where}: exactly one terminal status event`);
  assert.equal(terminal[0]!.seq, events.at(-1)!.seq, `${where}: the terminal status event is the last`);
  assert.equal(terminal[0]!.status, job.status, `${where}: the terminal event names the job's status`);
  const allowed = [expectedStatus].flat();
  assert.ok(allowed.includes(job.status), `${id}: expected ${allowed.join(' or ')}, got ${job.status} (error ${JSON.stringify(job.error)})`);

  // 3. No gap, no duplicate.
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => i + 1),
    `${where}: seq 1..n`,
  );
  assert.equal(events.length, job.lastEventSeq, `${id}: last_event_seq counts the stored events`);
  assert.equal(statuses[0]?.status, 'queued', `${where}: the first event is the queued status`);

  // 4. Attempts in order.
  const running = statuses.filter((s) => s.status === 'running').map((s) => s.attempt);
  assert.deepEqual(
    running,
    running.map((_, i) => i + 1),
    `${where}: running events name attempts 1..n`,
  );
  assert.equal(running.length, job.attempts, `${where}: one running event per attempt (job.attempts ${job.attempts})`);

  // 5. The result, written once.
  const artifacts = await db.artifact.findMany({ where: { jobId: id } });
  let resultAttempt: number | undefined;
  if (job.status === 'succeeded') {
    resultAttempt = terminal[0]!.attempt;
    assert.ok(resultAttempt && resultAttempt <= job.attempts, `${where}: the success names its attempt`);
    assert.ok(job.result, `${id}: a succeeded job has a result`);
    assert.equal(new Set(artifacts.map((a) => `${a.kind}/${a.file}`)).size, artifacts.length, `${id}: one row per artifact file`);
    for (const kind of ['student', 'report'])
      assert.ok(
        artifacts.some((a) => a.kind === kind),
        `${id}: ${kind} artifact stored`,
      );
    for (const a of artifacts) {
      assert.ok(a.storageKey.startsWith(`jobs/${id}/attempts/${resultAttempt}/`), `${id}: artifact ${a.storageKey} belongs to attempt ${resultAttempt}`);
      const bytes = await readFile(join(target.config.ARTIFACT_DIR, ...a.storageKey.split('/')));
      assert.equal(bytes.byteLength, Number(a.bytes), `${a.storageKey}: recorded size`);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), a.sha256, `${a.storageKey}: recorded sha256`);
    }
    const report = artifacts.find((a) => a.kind === 'report' && a.file === 'report.json')!;
    const stored = JSON.parse(await readFile(join(target.config.ARTIFACT_DIR, ...report.storageKey.split('/')), 'utf8'));
    assert.deepEqual(stored, job.result, `${id}: report.json is the job's result`);
    for (const kind of new Set(artifacts.filter((a) => a.file === 'model.json').map((a) => a.kind))) {
      await assertLoads(
        target.config.ARTIFACT_DIR,
        artifacts.filter((a) => a.kind === kind),
        `${id} ${kind}`,
      );
    }
  } else {
    assert.equal(artifacts.length, 0, `${id}: a ${job.status} job has no artifacts`);
  }

  // 6. BullMQ's view agrees (it may have forgotten the job: Redis emptied, or removed on completion).
  const state = await queue.getJobState(id);
  if (state === 'completed') assert.equal(job.status, 'succeeded', `${id}: BullMQ completed it, so its result is stored`);

  return { id, status: job.status, attempts: job.attempts, events: events.length, resultAttempt };
}

/** Loads model.json + weights.bin from the store with tfjs and runs one prediction. */
async function assertLoads(artifactDir: string, files: { file: string; storageKey: string }[], what: string): Promise<void> {
  const read = (name: string) => {
    const file = files.find((f) => f.file === name);
    assert.ok(file, `${what}: ${name} stored`);
    return readFile(join(artifactDir, ...file.storageKey.split('/')));
  };
  const modelJson = JSON.parse((await read('model.json')).toString('utf8'));
  const weights = await read('weights.bin');
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest.flatMap((g: { weights: tf.io.WeightsManifestEntry[] }) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    }),
  );
  const input = model.inputs[0]!.shape.map((d) => d ?? 2);
  const output = tf.tidy(() => model.predict(tf.zeros(input)) as tf.Tensor);
  assert.equal(output.shape[0], input[0], `${what}: predicts`);
  const values = Array.from(await output.data());
  const weightValues = new Float32Array(weights.buffer, weights.byteOffset, weights.byteLength / 4);
  const badWeights = weightValues.filter((v) => !Number.isFinite(v)).length;
  assert.ok(values.every(Number.isFinite), `${what}: finite outputs (got ${values.join(', ')}; ${badWeights} of ${weightValues.length} weights not finite)`);
  tf.dispose(output);
  model.dispose();
}
