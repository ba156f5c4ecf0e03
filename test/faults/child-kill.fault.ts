// SIGKILL of a worker's training child mid-epoch: the worker records the crash, the job goes back to
// the queue and the next attempt resumes from the last checkpoint (or from the start, if none was made).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
} from './harness.js';
import { checkInvariants } from './invariants.js';

describe('fault: the training child is killed mid-epoch', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 1, env: { ...FAULT_ENV } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('killed while distilling and while training the teacher: both retried, all three jobs succeed', async () => {
    const worker = stack.workers[0]!;
    const [distilling, teacher, untouched] = await submitAll(stack.url, [smallJob('kill-distilling', 6), smallJob('kill-teacher'), smallJob('untouched')]);

    // Mid-epoch: a batch of epoch 2 has been reported, epoch 1's checkpoint is recorded.
    const pidA = await childPid(worker, distilling!);
    const checkpoint = await untilEvent(stack.db, distilling!, (e) => e.type === 'checkpoint' && e.data.phase === 'distilling', 'a distillation checkpoint');
    await untilEvent(stack.db, distilling!, midDistillation(Number(checkpoint.data.epoch)), 'a batch after the checkpoint');
    process.kill(pidA, 'SIGKILL');

    const pidB = await childPid(worker, teacher!);
    await untilEvent(stack.db, teacher!, (e) => e.type === 'metrics' && e.data.phase === 'training_teacher', 'a teacher batch');
    process.kill(pidB, 'SIGKILL');

    await untilAllTerminal(stack.url, [distilling!, teacher!, untouched!]);
    const summaries = await checkInvariants(stack, [distilling!, teacher!, untouched!]);
    console.log(describeJobs(summaries));
    assert.deepEqual(
      summaries.map((s) => s.attempts),
      [2, 2, 1],
      'one retry per killed child, none for the other job',
    );
    assert.ok(!alive(pidA) && !alive(pidB), 'the killed children are gone');

    // The crash is named, and the retry of A resumed after its checkpoint instead of starting over.
    const events = await flatEvents(stack.db, distilling!);
    const requeued = events.find((e) => e.type === 'status' && e.status === 'queued' && e.reason === 'retry');
    assert.equal((requeued?.error as { code?: string } | undefined)?.code, 'worker_crashed');
    assertResumedAfter(events, 2, Number(checkpoint.data.epoch));
  });
});
