import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../../src/auth/api-keys.js';
import { isTerminal } from '../../src/jobs/status.js';
import { request, waitFor } from '../support/http.js';
import { cancellableJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack, stopProcess } from '../support/stack.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface JobView {
  id: string;
  status: string;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
}

/**
 * Fair scheduling (src/queue/admission.ts) through the real API and a real worker of concurrency 1:
 * one tenant's many jobs do not hold another tenant's; priority orders a tenant's own jobs; a job that
 * never reached the queue cancels at once; the reconciler rebuilds a lost queue and admits the rest.
 */
describe('fair scheduling between tenants', () => {
  let stack: Stack;
  /** Jobs read with the admin key: every tenant's are visible. */
  const get = async (id: string) => {
    const r = await request<JobView>(stack.url, 'GET', `/v1/jobs/${id}`, undefined, bearer(stack.keys.admin.key));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const submit = async (key: string, body: object): Promise<string> => {
    const created = await request(stack.url, 'POST', '/v1/jobs', body, bearer(key));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  };
  const untilStarted = (id: string, timeoutMs = 180_000) =>
    waitFor(
      `job ${id} to start`,
      async () => {
        const job = await get(id);
        return job.started_at !== null && job;
      },
      timeoutMs,
      200,
    );
  const untilTerminal = (id: string, timeoutMs = 180_000) =>
    waitFor(
      `job ${id} to end`,
      async () => {
        const job = await get(id);
        return isTerminal(job.status) && job;
      },
      timeoutMs,
      200,
    );
  /** Is the job in BullMQ at all (waiting, active, delayed…)? */
  const inQueue = async (id: string) => (await stack.redis.exists(`bull:${stack.config.QUEUE_NAME}:${id}`)) === 1;

  before(async () => {
    stack = await startStack({ workers: 0 });
  });
  after(async () => {
    await stack?.stop();
  });

  test('concurrent submits of one tenant admit no more than its share; cancelling the admitted one admits the next', async () => {
    const e = await createApiKey(stack.db, 'tenant-e');
    const ids = await Promise.all(Array.from({ length: 16 }, (_, i) => submit(e.key, { ...QUICK_JOB, name: `e-${i}` })));
    const admitted = async () => (await Promise.all(ids.map(inQueue))).filter(Boolean).length;
    assert.equal(await admitted(), 1, 'one job waits in the queue (MAX_WAITING_JOBS_PER_TENANT=1)');
    const dispatched = await stack.db.job.findMany({ where: { id: { in: ids }, dispatchedAt: { not: null } }, select: { id: true } });
    assert.equal(dispatched.length, 1);
    const first = dispatched[0]!.id;
    assert.ok(await inQueue(first));
    assert.equal((await request(stack.url, 'POST', `/v1/jobs/${first}/cancel`, undefined, bearer(e.key))).body.status, 'cancelled');
    assert.equal(await inQueue(first), false, 'a cancelled job leaves the queue');
    assert.equal(await admitted(), 1, 'and the next takes its place');
    for (const id of ids) assert.equal((await request(stack.url, 'POST', `/v1/jobs/${id}/cancel`, undefined, bearer(e.key))).body.status, 'cancelled');
    assert.equal(await admitted(), 0);
  });

  const tenantA: string[] = [];

  test("one tenant's 20 high-priority jobs queued first: another tenant's job starts before their third", async () => {
    for (let i = 0; i < 20; i++) tenantA.push(await submit(stack.keys.a.key, { ...QUICK_JOB, name: `a-${i}`, priority: 'high' }));
    const b = await submit(stack.keys.b.key, { ...QUICK_JOB, name: 'b-0', priority: 'low' });

    // Only one job of each tenant waits in BullMQ; the other 19 of A wait in Postgres.
    assert.deepEqual(
      (await Promise.all([...tenantA, b].map(inQueue))).map((q, i) => (q ? i : -1)).filter((i) => i >= 0),
      [0, 20],
    );
    assert.equal(await stack.db.job.count({ where: { tenantId: stack.keys.a.tenantId, status: 'queued', dispatchedAt: null } }), 19);
    for (const id of [...tenantA, b]) assert.equal((await get(id)).status, 'queued', 'every job reads queued, admitted or not');

    // No periodic reconcile (only the one at start): admission on start and end alone must carry the turns.
    await stack.startWorker({ WORKER_CONCURRENCY: '1', RECONCILE_INTERVAL_SECONDS: '3600' });
    const [started] = await Promise.all([Promise.all(tenantA.slice(0, 3).map((id) => untilStarted(id))), untilTerminal(b)]);
    const bJob = await get(b);
    assert.equal(bJob.status, 'succeeded');
    const [a1, a2, a3] = started.map((j) => Date.parse(j.started_at!));
    const bStart = Date.parse(bJob.started_at!);
    assert.ok(a1! < a2! && a2! < a3!, "A's own jobs start in the order they were queued");
    assert.ok(bStart < a3!, `B started at ${bJob.started_at}, A's third at ${started[2]!.started_at}`);
    assert.ok(bStart < a2!, "with one worker, the tenants take turns: B goes right after A's first");
  });

  test('a job that never reached the queue is cancelled at once, never runs, and frees nothing it did not hold', async () => {
    const last = tenantA.at(-1)!;
    assert.equal(await inQueue(last), false);
    const cancelled = await request(stack.url, 'POST', `/v1/jobs/${last}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, 'cancelled');
    assert.ok(cancelled.body.finished_at);
    const events = (await request(stack.url, 'GET', `/v1/jobs/${last}/events`)).body.data;
    assert.deepEqual(
      events.map((e: { data: { status: string } }) => e.data.status),
      ['queued', 'cancelled'],
    );

    // The rest of A's backlog: cancelled, admitted or not; whatever had started ends on its own.
    for (const id of tenantA.slice(3, -1)) {
      const r = await request(stack.url, 'POST', `/v1/jobs/${id}/cancel`);
      assert.equal(r.status, 200);
    }
    const ended: JobView[] = [];
    for (const id of tenantA) ended.push(await untilTerminal(id));
    assert.equal((await get(last)).attempts, 0, 'the cancelled job never started');
    assert.equal(await inQueue(last), false, 'and was never enqueued');
    const neverStarted = ended.filter((j) => j.attempts === 0);
    assert.ok(neverStarted.length >= 10, `most of A's backlog never started (${neverStarted.length})`);
    assert.ok(neverStarted.every((j) => j.status === 'cancelled'));
  });

  test("priority orders a tenant's own jobs: a high job queued after a low one takes the next free place", async () => {
    const c = await createApiKey(stack.db, 'tenant-c');
    const blocker = await submit(c.key, { ...cancellableJob(), name: 'c-blocker' });
    await untilStarted(blocker);
    // The worker is busy: `first` takes C's one place in the queue, low and high wait in Postgres.
    const first = await submit(c.key, { ...QUICK_JOB, name: 'c-first' });
    const low = await submit(c.key, { ...QUICK_JOB, name: 'c-low', priority: 'low' });
    const high = await submit(c.key, { ...QUICK_JOB, name: 'c-high', priority: 'high' });
    assert.deepEqual(await Promise.all([first, low, high].map(inQueue)), [true, false, false]);

    assert.equal((await request(stack.url, 'POST', `/v1/jobs/${blocker}/cancel`, undefined, bearer(c.key))).status, 200);
    const [firstJob, lowJob, highJob] = await Promise.all([first, low, high].map((id) => untilTerminal(id)));
    for (const job of [firstJob, lowJob, highJob]) assert.equal(job!.status, 'succeeded');
    assert.ok(Date.parse(highJob!.started_at!) < Date.parse(lowJob!.started_at!), `high started ${highJob!.started_at}, low ${lowJob!.started_at}`);
    assert.ok(Date.parse(firstJob!.started_at!) < Date.parse(highJob!.started_at!), 'a job already in the queue keeps its place');
  });

  test('Redis emptied with jobs admitted and jobs still waiting in Postgres: the reconciler runs them all', async () => {
    await Promise.all(stack.workers.map((w) => stopProcess(w)));
    const d = await createApiKey(stack.db, 'tenant-d');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(d.key, { ...QUICK_JOB, name: `d-${i}` }));
    ids.push(await submit(stack.keys.b.key, { ...QUICK_JOB, name: 'b-lost' }));
    assert.deepEqual(await Promise.all(ids.map(inQueue)), [true, false, false, true]);
    await stack.emptyRedis();
    assert.deepEqual(await Promise.all(ids.map(inQueue)), [false, false, false, false]);

    await stack.startWorker();
    for (const id of ids) {
      const job = await untilTerminal(id);
      assert.equal(job.status, 'succeeded');
      assert.equal(job.attempts, 1);
    }
  });
});
