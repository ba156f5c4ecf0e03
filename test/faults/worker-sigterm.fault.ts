// SIGTERM of a worker during a job: it asks its child to stop between batches, puts the job back in the
// queue without using up a BullMQ attempt, and exits within SHUTDOWN_GRACE_SECONDS; another worker
// resumes the job from its last checkpoint (one more attempt in Postgres) and it succeeds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../support/http.js';
import { startStack, type Stack } from '../support/stack.js';
import {
  alive,
  assertResumedAfter,
  childPid,
  describeJobs,
  FAULT_ENV,
  flatEvents,
  midDistillation,
  smallJob,
  submitAll,
  untilAllTerminal,
  untilEvent,
  workerRunning,
} from './harness.js';
import { checkInvariants } from './invariants.js';

describe('fault: a worker is stopped with SIGTERM mid-job', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 2, env: { ...FAULT_ENV, SHUTDOWN_GRACE_SECONDS: '20' } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('graceful: the job goes back to the queue, is resumed elsewhere from its checkpoint and succeeds', async () => {
    const ids = await submitAll(stack.url, [smallJob('on-stopped-worker', 8), smallJob('beside'), smallJob('queued')]);
    const victim = ids[0]!;
    const worker = await workerRunning(stack.workers, victim);
    const pid = await childPid(worker, victim);
    const checkpoint = await untilEvent(stack.db, victim, (e) => e.type === 'checkpoint' && e.data.phase === 'distilling', 'a distillation checkpoint');
    await untilEvent(stack.db, victim, midDistillation(Number(checkpoint.data.epoch)), 'a batch after the checkpoint');

    const stoppedAt = Date.now();
    worker.process.kill('SIGTERM');
    const code = await worker.exited;
    const took = (Date.now() - stoppedAt) / 1000;
    console.log(`the worker stopped in ${took.toFixed(1)} s with code ${code}`);
    assert.equal(code, 0, 'a clean exit');
    assert.ok(took < 20, 'within SHUTDOWN_GRACE_SECONDS');
    await waitFor('its training child to be gone', async () => !alive(pid), 5000, 100);

    await untilAllTerminal(stack.url, ids);
    const summaries = await checkInvariants(stack, ids);
    console.log(describeJobs(summaries));
    assert.equal(summaries[0]!.attempts, 2, 'one more attempt, on the other worker');
    assert.deepEqual(
      summaries.slice(1).map((s) => s.attempts),
      [1, 1],
    );

    const events = await flatEvents(stack.db, victim);
    const statuses = events.filter((e) => e.type === 'status').map((e) => [e.status, e.reason ?? e.attempt ?? null]);
    assert.deepEqual(statuses, [
      ['queued', null],
      ['running', 1],
      ['queued', 'worker_shutdown'],
      ['running', 2],
      ['succeeded', 2],
    ]);
    // Resumed from the last checkpoint recorded before the stop, at the next distillation epoch.
    const second = events.findIndex((e) => e.type === 'status' && e.status === 'running' && e.attempt === 2);
    const last = events
      .slice(0, second)
      .filter((e) => e.type === 'checkpoint')
      .at(-1);
    assert.equal(last?.phase, 'distilling');
    assertResumedAfter(events, 2, Number(last.epoch));
    const firstEpoch = events.slice(second).find((e) => e.type === 'epoch' && e.phase === 'distilling');
    assert.equal(Number(firstEpoch?.epoch), Number(last.epoch) + 1, 'resumed at the epoch after the last checkpoint');
  });
});
