import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JobEventObject } from '../../src/jobs/events.js';
import { checkpointSeqOf } from '../../src/jobs/checkpoints.js';
import { tenantUsage } from '../../src/jobs/tenant-usage.js';
import { followJob, request, waitFor } from '../support/http.js';
import { cancellableJob, longerJob } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const getJob = (stack: Stack, id: string) => request(stack.url, 'GET', `/v1/jobs/${id}`).then((r) => r.body);
const untilTerminal = (stack: Stack, id: string, timeoutMs = 180_000) =>
  waitFor(
    `job ${id} to end`,
    async () => {
      const job = await getJob(stack, id);
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) && job;
    },
    timeoutMs,
    300,
  );

/** What the store and Postgres hold of a job's checkpoints. */
async function checkpointsOf(stack: Stack, jobId: string) {
  const dir = join(stack.config.ARTIFACT_DIR, 'jobs', jobId, 'checkpoints');
  const files = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const rows = await stack.db.checkpoint.findMany({ where: { jobId }, orderBy: { seq: 'asc' } });
  return { dir, files, rows };
}

/**
 * The job's end is committed first (its usage drops with it), then its checkpoint files are removed,
 * then their rows: a reader that saw the end waits for the removal, which follows at once.
 */
async function assertNoCheckpoints(stack: Stack, jobId: string) {
  await waitFor(
    `job ${jobId}'s checkpoints to be removed`,
    async () => {
      const { files, rows } = await checkpointsOf(stack, jobId);
      return files.length === 0 && rows.length === 0;
    },
    30_000,
    100,
  ).catch(() => undefined);
  const { files, rows } = await checkpointsOf(stack, jobId);
  assert.deepEqual(files, [], 'no checkpoint file is left');
  assert.deepEqual(rows, [], 'no checkpoint row is left');
}

/** A checkpoint as an attempt that ran before would have left it: file and row. */
async function plantCheckpoint(stack: Stack, jobId: string, seq: number) {
  const { dir } = await checkpointsOf(stack, jobId);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `1-${seq}.bin`), Buffer.alloc(1000, 7));
  await stack.db.checkpoint.create({
    data: { jobId, attempt: 1, seq, phase: 'distilling', epoch: seq, storageKey: `jobs/${jobId}/checkpoints/1-${seq}.bin`, bytes: 1000n },
  });
}

describe('checkpoints live only while useful', () => {
  let stack: Stack;
  const usage = () => tenantUsage(stack.db, stack.keys.a.tenantId);

  before(async () => {
    // No worker at first: the first test needs a job that stays queued.
    stack = await startStack({ workers: 0, env: { JOB_ATTEMPTS: '2' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('a queued job with checkpoints of an earlier attempt, cancelled through the API, keeps none; a worker sweeps what a crash left', async () => {
    const queued = (await request(stack.url, 'POST', '/v1/jobs', longerJob(4))).body.id as string;
    await plantCheckpoint(stack, queued, 1);
    const before = await usage();
    const cancelled = await request(stack.url, 'POST', `/v1/jobs/${queued}/cancel`);
    assert.equal(cancelled.body.status, 'cancelled');
    await assertNoCheckpoints(stack, queued);
    assert.equal((await usage()).storedBytes, before.storedBytes - 1000, 'the usage dropped by the removed bytes');

    // A process that died between the job's end and the removal: the worker's sweep finishes it.
    await plantCheckpoint(stack, queued, 2);
    await stack.startWorker();
    await waitFor("the sweep to remove the ended job's checkpoints", async () => (await checkpointsOf(stack, queued)).rows.length === 0, 60_000);
    await assertNoCheckpoints(stack, queued);
  });

  test('while a job runs at most the latest checkpoint (and the one being replaced) exists; it ends with its results and none', async () => {
    const baseline = (await usage()).storedBytes;
    const id = (await request(stack.url, 'POST', '/v1/jobs', longerJob(8))).body.id as string;
    const ws = await followJob(stack.wsUrl, id);
    const observed: number[] = [];
    let peakUsage = 0;
    // Between epochs: at each checkpoint the job has, nothing older than the previous one is left.
    for (;;) {
      const next = await ws.waitForEvent(
        (e) => (e.type === 'checkpoint' && !observed.includes(e.data.seq as number)) || (e.type === 'status' && e.data.status === 'succeeded'),
        180_000,
      );
      if (next.type === 'status') break;
      const seq = next.data.seq as number;
      observed.push(seq);
      const { files, rows } = await checkpointsOf(stack, id);
      for (const file of files) assert.ok((checkpointSeqOf(file) ?? -1) >= seq - 1, `file ${file} is older than the previous checkpoint (seen at ${seq})`);
      for (const row of rows) assert.ok(row.seq >= seq - 1, `row ${row.seq} is older than the previous checkpoint (seen at ${seq})`);
      peakUsage = Math.max(peakUsage, (await usage()).storedBytes);
    }
    assert.ok(observed.length >= 8, `checkpoints seen: ${observed.join(', ')}`);
    const job = await untilTerminal(stack, id);
    assert.equal(job.status, 'succeeded');
    // Read as soon as the job is seen ended: the usage dropped with the end itself.
    const afterEnd = (await usage()).storedBytes;
    const artifacts = await stack.db.artifact.findMany({ where: { jobId: id } });
    assert.ok(artifacts.length > 0);
    const artifactBytes = artifacts.reduce((sum, a) => sum + Number(a.bytes), 0);
    assert.equal(afterEnd, baseline + artifactBytes, 'usage counts the results, not the checkpoints');
    await assertNoCheckpoints(stack, id);
    const results = await readdir(join(stack.config.ARTIFACT_DIR, 'jobs', id));
    assert.deepEqual(results, ['attempts'], 'the folder holds the results only');
    assert.ok(peakUsage > baseline, 'the checkpoints counted while the job ran');
  });

  test('a cancelled running job keeps no checkpoint, and its usage goes with it', async () => {
    const baseline = (await usage()).storedBytes;
    const id = (await request(stack.url, 'POST', '/v1/jobs', cancellableJob())).body.id as string;
    const ws = await followJob(stack.wsUrl, id);
    await ws.waitForEvent((e) => e.type === 'checkpoint' && (e.data.seq as number) >= 2, 180_000);
    assert.ok((await checkpointsOf(stack, id)).rows.length > 0, 'it had checkpoints');
    assert.ok((await usage()).storedBytes > baseline, 'they counted while it ran');
    await request(stack.url, 'POST', `/v1/jobs/${id}/cancel`);
    const job = await untilTerminal(stack, id);
    assert.equal(job.status, 'cancelled');
    assert.equal((await usage()).storedBytes, baseline, 'a cancelled job stores nothing');
    await assertNoCheckpoints(stack, id);
  });

  test('a child killed mid-run resumes from its last checkpoint and ends with none; killed on its last attempt, it fails with none', async () => {
    const worker = stack.workers[0]!;
    const killAfterCheckpoint = async (id: string, attempt: number) => {
      const started = await worker.waitForLog((l) => l.jobId === id && l.msg === 'training child started' && l.attempt === attempt, 120_000);
      const ws = await followJob(stack.wsUrl, id);
      const running = await ws.waitForEvent((e) => e.type === 'status' && e.data.status === 'running' && e.data.attempt === attempt, 60_000);
      await ws.waitForEvent((e) => e.seq > running.seq && e.type === 'checkpoint' && e.data.phase === 'distilling' && (e.data.epoch as number) >= 2, 180_000);
      ws.socket.close();
      process.kill(started.childPid as number, 'SIGKILL');
    };

    const resumed = (await request(stack.url, 'POST', '/v1/jobs', longerJob(12))).body.id as string;
    await killAfterCheckpoint(resumed, 1);
    const done = await untilTerminal(stack, resumed);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.attempts, 2);
    const events = (await request(stack.url, 'GET', `/v1/jobs/${resumed}/events?limit=1000`)).body.data as JobEventObject[];
    const restart = events.findIndex((e) => e.type === 'status' && e.data.status === 'running' && e.data.attempt === 2);
    assert.ok(restart > 0);
    assert.ok(
      !events.slice(restart).some((e) => e.type === 'phase' && e.data.phase === 'training_teacher'),
      'the second attempt resumed: no teacher training again',
    );
    await assertNoCheckpoints(stack, resumed);

    const baseline = (await usage()).storedBytes;
    const failed = (await request(stack.url, 'POST', '/v1/jobs', cancellableJob())).body.id as string;
    await killAfterCheckpoint(failed, 1);
    await killAfterCheckpoint(failed, 2);
    const job = await untilTerminal(stack, failed);
    assert.equal(job.status, 'failed');
    assert.equal(job.error.code, 'worker_crashed');
    assert.equal((await usage()).storedBytes, baseline, 'a failed job stores nothing');
    await assertNoCheckpoints(stack, failed);
  });
});
