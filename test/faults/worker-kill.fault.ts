// SIGKILL of a whole worker process mid-job: its training child exits with it, BullMQ's lock on the job
// expires (lockDuration 30 s in src/worker/worker.ts) and another worker's stalled-job check takes it
// over: a new attempt resumes from the last checkpoint. The other jobs go on on the surviving worker.
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

describe('fault: a worker process is killed mid-job', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 2, env: { ...FAULT_ENV } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('its job is taken over by the other worker after the lock expires and succeeds; nothing else is disturbed', async () => {
    const ids = await submitAll(stack.url, [smallJob('on-killed-worker', 8), smallJob('beside'), smallJob('queued')]);
    const victim = ids[0]!;
    const worker = await workerRunning(stack.workers, victim);
    const pid = await childPid(worker, victim);
    const checkpoint = await untilEvent(stack.db, victim, (e) => e.type === 'checkpoint' && e.data.phase === 'distilling', 'a distillation checkpoint');
    await untilEvent(stack.db, victim, midDistillation(Number(checkpoint.data.epoch)), 'a batch after the checkpoint');

    worker.process.kill('SIGKILL');
    await worker.exited;
    const killedAt = Date.now();
    // The child notices its parent is gone (IPC disconnect) and exits: no orphan keeps training.
    await waitFor('the orphaned training child to exit', async () => !alive(pid), 15_000, 100);

    const retried = await untilEvent(
      stack.db,
      victim,
      (e) => e.type === 'status' && e.data.status === 'running' && e.data.attempt === 2,
      'attempt 2 on the other worker',
      240_000,
    );
    const takeover = Math.round((Date.now() - killedAt) / 1000);
    console.log(`the killed worker's job was taken over after ~${takeover} s (lock 30 s + stalled-job check)`);
    assert.ok(retried);

    await untilAllTerminal(stack.url, ids);
    const summaries = await checkInvariants(stack, ids);
    console.log(describeJobs(summaries));
    assert.equal(summaries[0]!.attempts, 2, 'the killed attempt and the one that took over');
    assert.deepEqual(
      summaries.slice(1).map((s) => s.attempts),
      [1, 1],
      'the other jobs ran once',
    );

    assertResumedAfter(await flatEvents(stack.db, victim), 2, Number(checkpoint.data.epoch));
  });
});
