import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { signWebhook } from '../../src/jobs/webhook-signature.js';
import type { JobEventObject } from '../../src/jobs/events.js';
import { followJob, request, waitFor } from '../support/http.js';
import { longerJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const getJob = (stack: Stack, id: string) => request(stack.url, 'GET', `/v1/jobs/${id}`).then((r) => r.body);
const allEvents = async (stack: Stack, id: string): Promise<JobEventObject[]> =>
  (await request(stack.url, 'GET', `/v1/jobs/${id}/events?limit=1000`)).body.data;
const untilTerminal = (stack: Stack, id: string, timeoutMs = 120_000) =>
  waitFor(
    `job ${id} to end`,
    async () => {
      const job = await getJob(stack, id);
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) && job;
    },
    timeoutMs,
    300,
  );

function assertContinuous(events: JobEventObject[]) {
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => i + 1),
    'sequence 1..n with no gap and no duplicate',
  );
}

interface Delivery {
  headers: IncomingMessage['headers'];
  body: string;
}

describe('recovery: crashes, lost queues, reconnects, webhooks, time limits', () => {
  let stack: Stack;
  let hooks: Server;
  const deliveries: Delivery[] = [];
  let failNext = 1;

  before(async () => {
    // The webhook receiver answers 500 to the first delivery, then 200.
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.statusCode = failNext-- > 0 ? 500 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const port = (hooks.address() as AddressInfo).port;
    stack = await startStack({ workers: 0, env: { WEBHOOK_ALLOWED_HOSTS: `127.0.0.1:${port}`, JOB_ATTEMPTS: '3' } });
  });
  after(async () => {
    await stack.stop();
    hooks.close();
  });

  test('Redis emptied while jobs are queued: the reconciler enqueues them again and all finish', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: `lost-${i}` })).body.id);
    assert.ok((await stack.redis.keys(`bull:${stack.config.QUEUE_NAME}:*`)).length > 0, 'the jobs were in BullMQ');
    await stack.emptyRedis();
    assert.equal((await stack.redis.keys(`bull:${stack.config.QUEUE_NAME}:*`)).length, 0, 'and now they are not');
    await stack.startWorker();
    for (const id of ids) {
      const job = await untilTerminal(stack, id);
      assert.equal(job.status, 'succeeded');
      assert.equal(job.attempts, 1);
      assertContinuous(await allEvents(stack, id));
    }
  });

  test('SIGKILL of the training child mid-job: the next attempt resumes from the checkpoint', async () => {
    const worker = stack.workers[0]!;
    const created = await request(stack.url, 'POST', '/v1/jobs', longerJob(12));
    const id = created.body.id;
    const started = await worker.waitForLog((l) => l.jobId === id && l.msg === 'training child started', 60_000);
    const ws = await followJob(stack.wsUrl, id);
    const checkpoint = await ws.waitForEvent((e) => e.type === 'checkpoint' && e.data.phase === 'distilling' && (e.data.epoch as number) >= 2, 120_000);
    process.kill(started.childPid as number, 'SIGKILL');

    const job = await untilTerminal(stack, id, 180_000);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.attempts, 2);
    await ws.closed;
    const events = await allEvents(stack, id);
    assertContinuous(events);
    assert.deepEqual(ws.events, events.slice(ws.events[0]!.seq - 1), 'the socket saw the same continuous stream');

    const statuses = events.filter((e) => e.type === 'status').map((e) => e.data);
    assert.deepEqual(
      statuses.map((s) => s.status),
      ['queued', 'running', 'queued', 'running', 'succeeded'],
    );
    assert.equal(statuses[2]!.reason, 'retry');
    assert.equal((statuses[2]!.error as { code: string }).code, 'worker_crashed');
    // After the restart: no teacher training again, and distillation continues after the checkpoint's epoch.
    const restart = events.findIndex((e) => e.type === 'status' && e.data.status === 'running' && e.data.attempt === 2);
    const resumed = events.slice(restart);
    assert.ok(!resumed.some((e) => e.type === 'phase' && e.data.phase === 'training_teacher'), 'the teacher was not trained again');
    const firstEpoch = resumed.find((e) => e.type === 'epoch' && e.data.phase === 'distilling');
    assert.ok(firstEpoch, 'distillation went on');
    assert.ok(
      (firstEpoch.data.epoch as number) > (checkpoint.data.epoch as number),
      `resumed at epoch ${firstEpoch.data.epoch} after checkpoint ${checkpoint.data.epoch}`,
    );
    // The resumed weights are the checkpoint's, not garbage: the student still learned the task.
    assert.ok(job.result.student.test_accuracy > 0.5, `student accuracy after resuming: ${job.result.student.test_accuracy}`);
  });

  test('a client that disconnects mid-job and reconnects with after misses nothing and sees nothing twice', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', longerJob(6));
    const first = await followJob(stack.wsUrl, created.body.id);
    await first.waitForEvent((e) => e.type === 'metrics' && e.data.phase === 'distilling', 120_000);
    first.socket.close();
    await first.closed;
    const seen = [...first.events];
    await new Promise((r) => setTimeout(r, 1000)); // events keep coming while the client is away
    const second = await followJob(stack.wsUrl, created.body.id, seen.at(-1)!.seq);
    const closed = await second.closed;
    assert.equal(closed.code, 1000);
    const combined = [...seen, ...second.events];
    assertContinuous(combined);
    assert.deepEqual(combined, await allEvents(stack, created.body.id));
    assert.equal(combined.at(-1)!.data.status, 'succeeded');
  });

  test('a webhook arrives once per terminal state, signed, and is retried after a 500', async () => {
    const port = (hooks.address() as AddressInfo).port;
    const secret = `whsec_${Buffer.from('a shared secret of thirty-two bytes!').toString('base64')}`;
    const created = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, webhook: { url: `http://127.0.0.1:${port}/hooks`, secret } });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.webhook, { url: `http://127.0.0.1:${port}/hooks` }, 'the secret is never shown');
    await untilTerminal(stack, created.body.id);
    await waitFor('two delivery attempts', async () => deliveries.length >= 2, 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more comes
    assert.equal(deliveries.length, 2, 'one failed attempt, one success, nothing more');
    const [failed, delivered] = deliveries as [Delivery, Delivery];
    assert.equal(failed.headers['webhook-id'], delivered.headers['webhook-id'], 'a retry keeps the message id');
    const timestamp = Number(delivered.headers['webhook-timestamp']);
    assert.ok(Math.abs(Date.now() / 1000 - timestamp) < 60);
    assert.equal(delivered.headers['webhook-signature'], signWebhook(secret, String(delivered.headers['webhook-id']), timestamp, delivered.body));
    const payload = JSON.parse(delivered.body);
    assert.equal(payload.type, 'job.succeeded');
    assert.equal(payload.data.id, created.body.id);
    assert.equal(payload.data.status, 'succeeded');
    const recorded = await stack.db.webhookDelivery.findMany({ where: { jobId: created.body.id }, orderBy: { attempt: 'asc' } });
    assert.deepEqual(
      recorded.map((r) => [r.attempt, r.statusCode]),
      [
        [1, 500],
        [2, 200],
      ],
    );
  });

  test('a job over its max_runtime_seconds fails with code timeout', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', { ...longerJob(150), max_runtime_seconds: 3 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await untilTerminal(stack, created.body.id);
    assert.equal(job.status, 'failed');
    assert.equal(job.error.code, 'timeout');
    assert.match(job.error.message, /max_runtime_seconds/);
    assert.equal(job.attempts, 1, 'a timeout is not retried');
    assertContinuous(await allEvents(stack, created.body.id));
  });
});
