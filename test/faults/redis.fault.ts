// Redis is transport, Postgres the truth: Redis restarted (without persistence, so empty) or emptied
// while jobs are queued and running loses nothing. The reconciler re-enqueues every admitted job from
// Postgres and admits the rest; a job that was running is either finished by its attempt or resumed by the next.
// Runs against a private redis-server (test/support/services.ts): the shared one is never touched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/http.js';
import { type PrivateRedis, startPrivateRedis } from '../support/services.js';
import { startStack, type Stack } from '../support/stack.js';
import { describeJobs, FAULT_ENV, midDistillation, smallJob, submitAll, untilAllTerminal, untilEvent, workerRunning } from './harness.js';
import { checkInvariants } from './invariants.js';

describe('fault: Redis restarted or emptied with jobs queued and running', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  before(async () => {
    redis = await startPrivateRedis();
    stack = await startStack({ workers: 1, env: { ...FAULT_ENV, REDIS_URL: redis.url } });
    stack.redis.on('error', () => {}); // the test's own client, while Redis is down: it reconnects
  });
  after(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  async function queuedAndRunning(tag: string): Promise<string[]> {
    const ids = await submitAll(stack.url, [smallJob(`${tag}-running`, 6), smallJob(`${tag}-queued-1`), smallJob(`${tag}-queued-2`)]);
    await workerRunning(stack.workers, ids[0]!);
    const checkpoint = await untilEvent(stack.db, ids[0]!, (e) => e.type === 'checkpoint' && e.data.phase === 'distilling', 'a distillation checkpoint');
    await untilEvent(stack.db, ids[0]!, midDistillation(Number(checkpoint.data.epoch)), 'a batch after the checkpoint');
    // Fair scheduling (src/queue/admission.ts): one job of the tenant waits in BullMQ, the other in Postgres.
    const queue = (await stack.redis.zcard(`bull:${stack.config.QUEUE_NAME}:prioritized`)) + (await stack.redis.llen(`bull:${stack.config.QUEUE_NAME}:wait`));
    assert.equal(queue, 1, `one job waits in BullMQ (${queue})`);
    const backlog = await stack.db.job.count({ where: { id: { in: ids }, status: 'queued', dispatchedAt: null } });
    assert.equal(backlog, 1, 'and one in Postgres, not yet admitted');
    return ids;
  }

  test('restarted: the queue is rebuilt from Postgres, a job submitted during the outage is kept, all succeed', async () => {
    const ids = await queuedAndRunning('restart');
    // Down for 3 s, then an empty Redis on the same port. A job submitted meanwhile is acknowledged
    // from Postgres alone (enqueueing fails fast) or refused with 503: never acknowledged and lost.
    const restarted = redis.restart(3000);
    await new Promise((r) => setTimeout(r, 1000));
    const during = await request(stack.url, 'POST', '/v1/jobs', smallJob('during-outage'));
    assert.ok(during.status === 201 || during.status === 503, `201 or 503 during the outage: ${during.status} ${JSON.stringify(during.body)}`);
    if (during.status === 201) ids.push(during.body.id);
    else assert.match(String(during.headers.get('content-type')), /application\/problem\+json/);
    console.log(`POST /v1/jobs while Redis was down: ${during.status}`);
    await restarted;

    await untilAllTerminal(stack.url, ids);
    const summaries = await checkInvariants(stack, ids);
    console.log(describeJobs(summaries));
    assert.ok(
      summaries.every((s) => s.attempts <= 2),
      'at most one extra attempt per job',
    );
  });

  test('emptied (FLUSHALL): the reconciler enqueues the lost jobs again, all succeed', async () => {
    const ids = await queuedAndRunning('flush');
    // Counted in the same transaction as the flush: the running worker and the API write to Redis
    // again within milliseconds (locks, events, the reconciler), so a later look would race them.
    const replies = await stack.redis.multi().dbsize().flushall().dbsize().exec();
    const [before, flushed, afterwards] = (replies ?? []).map(([error, value]) => (error ? error.message : value));
    assert.equal(flushed, 'OK');
    assert.ok(Number(before) > 0, `the queue held the jobs before (${before} keys)`);
    assert.equal(afterwards, 0, 'and is gone');

    await untilAllTerminal(stack.url, ids);
    const summaries = await checkInvariants(stack, ids);
    console.log(describeJobs(summaries));
    assert.ok(
      summaries.every((s) => s.attempts <= 2),
      'at most one extra attempt per job',
    );
  });
});
