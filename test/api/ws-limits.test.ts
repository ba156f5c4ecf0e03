/**
 * WebSockets are bounded like requests (issue 13, items 4–6): every field of a client message is validated
 * before use and a refusal names it; messages count against the tenant's request rate (the HTTP limiter's
 * Redis budget) and a socket that keeps sending over it is closed; open sockets per tenant are capped across
 * API processes (a crashed process's sockets stop counting); a revoked key's sockets close and its unused
 * tickets stop redeeming, on every API process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.js';
import { EventHub } from '../../src/api/live/event-hub.js';
import { type FollowerSink, JobFollower } from '../../src/api/live/job-follower.js';
import { appendEvents } from '../../src/jobs/events.js';
import { createRedis } from '../../src/redis.js';
import { channelPrefixFor } from '../../src/queue/queue.js';
import { spawnCli } from '../support/cli.js';
import { request, waitFor } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { refusedUpgrade, upgrade, type Upgrade } from '../support/ws.js';

type Open = Extract<Upgrade, { kind: 'open' }>;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const CLOSE_DEADLINE_MS = 30_000;

async function openSocket(url: string, headers: Record<string, string> = {}): Promise<Open> {
  const answer = await upgrade(url, headers);
  assert.equal(answer.kind, 'open', `${url}: ${answer.kind === 'refused' ? `${answer.status} ${JSON.stringify(answer.body)}` : ''}`);
  return answer as Open;
}

/** The close the server sends, or a failure naming what was awaited. */
async function closedWithin(socket: Open, what: string, ms = CLOSE_DEADLINE_MS): Promise<{ code: number; reason: string }> {
  const closed = await Promise.race([socket.closed, new Promise<undefined>((r) => void setTimeout(r, ms))]);
  assert.ok(closed, `${what}: the socket was not closed within ${ms} ms`);
  return closed;
}

/** One value of the API's /metrics (0 when absent). */
async function metric(url: string, name: string): Promise<number> {
  const text = (await request(url, 'GET', '/metrics')).body as string;
  // `name{process="api-…"} 3`: summed over the label sets (one here: this API process).
  const values = text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  assert.ok(values.length > 0, `${name} is in /metrics`);
  return values.reduce((sum, v) => sum + v, 0);
}

describe('WebSocket messages: every field validated, a refusal names it; nothing retries forever', () => {
  let stack: Stack;
  let jobId: string;
  before(async () => {
    stack = await startStack({ workers: 0 });
    jobId = (await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB)).body.id;
  });
  after(() => stack?.stop());

  test('after past 2^31 (the REST bound) is refused naming /after, follows nothing and leaves no read failing; in range it streams', async () => {
    const socket = await openSocket(`${stack.wsUrl}/v1/events`, bearer(stack.keys.a.key));
    const failuresBefore = await metric(stack.url, 'distill_ws_event_read_failures_total');
    for (const after of [2 ** 31, 2 ** 53, 1e300, 99_999_999_999]) {
      socket.send({ type: 'subscribe', job_id: jobId, after });
      socket.send({ type: 'unsubscribe', job_id: `marker-${after}` });
      await socket.waitFor((m) => m.type === 'unsubscribed' && m.job_id === `marker-${after}`);
    }
    const refusals = socket.messages.filter((m) => m.type === 'error');
    assert.equal(refusals.length, 4, JSON.stringify(socket.messages));
    for (const refusal of refusals) {
      assert.deepEqual([refusal.code, refusal.field, refusal.job_id], ['invalid_message', '/after', jobId]);
      assert.match(refusal.message, /after.*2147483647/);
    }
    assert.ok(!socket.messages.some((m) => m.type === 'subscribed' || m.object === 'event'), 'nothing was subscribed');
    // The REST query's own bound is the same one.
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${jobId}/events?after=${2 ** 31}`)).status, 400);

    socket.send({ type: 'subscribe', job_id: jobId, after: 2 ** 31 - 1 });
    await socket.waitFor((m) => m.type === 'subscribed' && m.after === 2 ** 31 - 1);
    socket.send({ type: 'subscribe', job_id: jobId });
    await socket.waitFor((m) => m.object === 'event' && m.seq === 1);
    // Several of the followers' 2 s retry periods: no read of Postgres has failed.
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(await metric(stack.url, 'distill_ws_event_read_failures_total'), failuresBefore);
    socket.socket.close();
  });

  test('each kind of bad field, wrong type, unknown field or frame is refused with the field it names, and the socket keeps working', async () => {
    const socket = await openSocket(`${stack.wsUrl}/v1/events`, bearer(stack.keys.a.key));
    const cases: Array<[string, unknown, string, string, boolean?]> = [
      // [what, message (a string is sent as is), code, field, names the job]
      ['not JSON', '{"type":', 'invalid_json', ''],
      ['an array', '[1,2]', 'invalid_message', ''],
      ['null', 'null', 'invalid_message', ''],
      ['a number', '42', 'invalid_message', ''],
      ['no type', { job_id: jobId }, 'invalid_message', '/type'],
      ['an unknown type', { type: 'follow', job_id: jobId }, 'invalid_message', '/type'],
      ['a type of the wrong JSON type', { type: ['subscribe'], job_id: jobId }, 'invalid_message', '/type'],
      ['no job_id', { type: 'subscribe' }, 'invalid_message', '/job_id'],
      ['a numeric job_id', { type: 'subscribe', job_id: 12 }, 'invalid_message', '/job_id'],
      ['an empty job_id', { type: 'unsubscribe', job_id: '' }, 'invalid_message', '/job_id'],
      ['a job_id of 65 characters', { type: 'subscribe', job_id: 'j'.repeat(65) }, 'invalid_message', '/job_id'],
      ['a job_id of 60 KiB', { type: 'unsubscribe', job_id: 'j'.repeat(60_000) }, 'invalid_message', '/job_id'],
      ['after as a string', { type: 'subscribe', job_id: jobId, after: '3' }, 'invalid_message', '/after', true],
      ['after as a fraction', { type: 'subscribe', job_id: jobId, after: 1.5 }, 'invalid_message', '/after', true],
      ['a negative after', { type: 'subscribe', job_id: jobId, after: -1 }, 'invalid_message', '/after', true],
      ['after null', { type: 'subscribe', job_id: jobId, after: null }, 'invalid_message', '/after', true],
      ['after as an object', { type: 'subscribe', job_id: jobId, after: { $gt: 0 } }, 'invalid_message', '/after', true],
      ['an unknown field', { type: 'subscribe', job_id: jobId, tenant_id: 'other' }, 'invalid_message', '/tenant_id', true],
      ['__proto__ as a field', `{"type":"subscribe","job_id":"${jobId}","__proto__":{"admin":true}}`, 'invalid_message', '/__proto__', true],
      ['after on an unsubscribe', { type: 'unsubscribe', job_id: jobId, after: 0 }, 'invalid_message', '/after', true],
    ];
    for (const [i, [what, message, code, field, namesJob]] of cases.entries()) {
      socket.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
      socket.send({ type: 'unsubscribe', job_id: `marker-${i}` });
      await socket.waitFor((m) => m.type === 'unsubscribed' && m.job_id === `marker-${i}`);
      const start = socket.messages.findIndex((m) => m.job_id === `marker-${i - 1}`) + 1;
      const replies = socket.messages.slice(start, -1);
      assert.equal(replies.length, 1, `${what}: one reply, got ${JSON.stringify(replies)}`);
      const [reply] = replies;
      assert.equal(reply.type, 'error', `${what}: ${JSON.stringify(reply)}`);
      assert.equal(reply.code, code, what);
      if (field) assert.equal(reply.field, field, what);
      if (field) assert.ok(reply.message.startsWith(`${field}:`), `${what}: the message names ${field}: ${reply.message}`);
      assert.equal(reply.job_id, namesJob ? jobId : undefined, `${what}: job_id`);
      assert.ok(reply.message.length < 300, `${what}: a short message`);
    }
    // A binary frame, even of valid JSON, is refused: the protocol is JSON text.
    socket.socket.send(Buffer.from(JSON.stringify({ type: 'subscribe', job_id: jobId })), { binary: true });
    const binary = await socket.waitFor((m) => m.type === 'error' && /binary/.test(m.message));
    assert.equal(binary.code, 'invalid_message');
    // Still serving: a valid subscribe streams.
    socket.send({ type: 'subscribe', job_id: jobId, after: 0 });
    await socket.waitFor((m) => m.object === 'event' && m.job_id === jobId && m.seq === 1);
    socket.socket.close();
  });

  test("a follower whose reads Postgres refuses ends with 'failed' after a few refused reads instead of retrying forever (defence in depth behind validation)", async () => {
    const subscriber = createRedis(stack.config.REDIS_URL, 'subscriber', 'test-hub');
    const hub = new EventHub(subscriber, channelPrefixFor(stack.config.QUEUE_NAME), stack.db);
    const failures: unknown[] = [];
    let ended: { reason: string; lastSeq: number } | undefined;
    const sink: FollowerSink = {
      bufferedAmount: () => 0,
      send: () => {},
      end: (reason, lastSeq) => void (ended = { reason, lastSeq }),
      readFailed: (err) => void failures.push(err),
    };
    // Past Postgres's integer range: what an unvalidated `after` used to reach.
    const follower = new JobFollower(stack.db, hub, jobId, 2 ** 31 + 5, sink, { softBytes: 1 << 18, hardBytes: 1 << 22 });
    try {
      follower.start();
      await waitFor('the follower to give up', async () => ended, 60_000, 100);
      assert.equal(ended?.reason, 'failed');
      assert.equal(failures.length, 3, 'three refused reads, then no more');
      assert.equal(hub.followedJobs, 0, 'it no longer follows the job');
      await new Promise((r) => setTimeout(r, 5000));
      assert.equal(failures.length, 3, 'no read after it ended');
    } finally {
      follower.stop();
      subscriber.disconnect();
    }
  });
});

describe("WebSocket messages count against the tenant's request rate", () => {
  const LIMIT = 12;
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 0, env: { RATE_LIMIT_PER_MINUTE: String(LIMIT) } });
  });
  after(() => stack?.stop());

  test('over the budget a message is refused with rate_limited and retry_after, HTTP shares the budget, other tenants are unaffected; a socket that keeps sending is closed with 1008', async () => {
    const key = await createApiKey(stack.db, 'chatty');
    const socket = await openSocket(`${stack.wsUrl}/v1/events`, bearer(key.key)); // the upgrade is request 1
    for (let i = 0; i < LIMIT - 1; i++) socket.send({ type: 'unsubscribe', job_id: `j${i}` });
    await socket.waitFor((m) => m.type === 'unsubscribed' && m.job_id === `j${LIMIT - 2}`);
    assert.ok(
      socket.messages.every((m) => m.type === 'unsubscribed'),
      'within the budget every message is answered',
    );

    socket.send({ type: 'unsubscribe', job_id: 'one too many' });
    const limited = await socket.waitFor((m) => m.type === 'error');
    assert.equal(limited.code, 'rate_limited');
    assert.ok(Number.isInteger(limited.retry_after) && limited.retry_after >= 1 && limited.retry_after <= 60, JSON.stringify(limited));
    assert.match(limited.message, new RegExp(`${LIMIT} requests per minute`));
    assert.ok(!socket.messages.some((m) => m.job_id === 'one too many'), 'the refused message did nothing');

    // The budget is the tenant's, over HTTP too; another tenant's is its own.
    const http = await request(stack.url, 'GET', '/v1/jobs', undefined, bearer(key.key));
    assert.equal(http.status, 429);
    assert.equal(http.body.code, 'rate_limited');
    assert.equal((await request(stack.url, 'GET', '/v1/jobs', undefined, bearer(stack.keys.b.key))).status, 200);
    const other = await openSocket(`${stack.wsUrl}/v1/events`, bearer(stack.keys.b.key));
    other.send({ type: 'unsubscribe', job_id: 'x' });
    await other.waitFor((m) => m.type === 'unsubscribed');

    // Going on regardless: closed, with the reason.
    for (let i = 0; i < 50 && socket.socket.readyState === socket.socket.OPEN; i++) socket.send({ type: 'unsubscribe', job_id: 'again' });
    const closed = await closedWithin(socket, 'a socket that keeps sending over its budget');
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /rate limited/);
    other.send({ type: 'unsubscribe', job_id: 'y' });
    await other.waitFor((m) => m.type === 'unsubscribed' && m.job_id === 'y');
    other.socket.close();
  });

  test('messages on the per-job socket (which takes none) count too: one that keeps sending is closed with 1008', async () => {
    const key = await createApiKey(stack.db, 'chatty-per-job');
    const job = (await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, bearer(key.key))).body;
    const socket = await openSocket(`${stack.wsUrl}/v1/jobs/${job.id}/events`, bearer(key.key));
    await socket.waitFor((m) => m.seq === 1);
    for (let i = 0; i < LIMIT * 3 && socket.socket.readyState === socket.socket.OPEN; i++) socket.send({ hello: i });
    const closed = await closedWithin(socket, 'a per-job socket flooding messages');
    assert.equal(closed.code, 1008);
    assert.ok(
      socket.messages.every((m) => m.object === 'event'),
      'only events were sent on it',
    );
  });
});

describe('open WebSockets per tenant are capped across API processes', () => {
  const CAP = 2;
  let stack: Stack;
  let second: RunningServer;
  const wsOf = (url: string) => url.replace(/^http/, 'ws');
  before(async () => {
    stack = await startStack({ workers: 0, env: { MAX_SOCKETS_PER_TENANT: String(CAP) } });
    second = await startServer(stack.config, pino({ level: 'silent' }));
  });
  after(async () => {
    await second?.close();
    await stack?.stop();
  });

  test('one socket on each API fills the cap: a third upgrade on either answers 429 quota_sockets; another tenant is unaffected; closing one frees its slot', async () => {
    const key = await createApiKey(stack.db, 'capped');
    const job = (await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, bearer(key.key))).body;
    const onFirst = await openSocket(`${stack.wsUrl}/v1/events`, bearer(key.key));
    const onSecond = await openSocket(`${wsOf(second.url)}/v1/jobs/${job.id}/events`, bearer(key.key));
    for (const url of [`${stack.wsUrl}/v1/events`, `${wsOf(second.url)}/v1/events`, `${stack.wsUrl}/v1/jobs/${job.id}/events`]) {
      const refused = await refusedUpgrade(url, bearer(key.key));
      assert.equal(refused.status, 429, url);
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(refused.body.code, 'quota_sockets');
      assert.match(refused.body.detail, /MAX_SOCKETS_PER_TENANT/);
      assert.equal(refused.headers.get('retry-after'), String(refused.body.retry_after), 'Retry-After, in the body too');
    }
    // A ticket is refused the same way (and the refusal leaves no slot taken).
    const ticket = (await request(stack.url, 'POST', '/v1/ws-tickets', undefined, bearer(key.key))).body.ticket;
    assert.equal((await refusedUpgrade(`${wsOf(second.url)}/v1/events?ticket=${ticket}`)).status, 429);
    // REST on the same path is not a socket.
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${job.id}/events`, undefined, bearer(key.key))).status, 200);
    const others = [
      await openSocket(`${stack.wsUrl}/v1/events`, bearer(stack.keys.b.key)),
      await openSocket(`${wsOf(second.url)}/v1/events`, bearer(stack.keys.b.key)),
    ];

    onFirst.socket.close();
    await onFirst.closed;
    const again = await waitFor(
      "the closed socket's slot to be free",
      async () => {
        const answer = await upgrade(`${wsOf(second.url)}/v1/events`, bearer(key.key));
        return answer.kind === 'open' ? answer : undefined;
      },
      20_000,
      100,
    );
    assert.equal((await refusedUpgrade(`${stack.wsUrl}/v1/events`, bearer(key.key))).status, 429, 'full again');
    for (const s of [again.socket, onSecond.socket, ...others.map((o) => o.socket)]) s.close();
  });

  test('an API process that stops gracefully gives its slots back at once', async () => {
    const key = await createApiKey(stack.db, 'graceful');
    const third = await startServer(stack.config, pino({ level: 'silent' }));
    const held = [await openSocket(`${wsOf(third.url)}/v1/events`, bearer(key.key)), await openSocket(`${wsOf(third.url)}/v1/events`, bearer(key.key))];
    assert.equal((await refusedUpgrade(`${stack.wsUrl}/v1/events`, bearer(key.key))).status, 429, 'full');
    await third.close();
    await Promise.all(held.map((h) => h.closed));
    const reopened = await openSocket(`${stack.wsUrl}/v1/events`, bearer(key.key));
    reopened.socket.close();
  });

  test("a crashed API process's sockets stop counting: after `distill serve` is killed, its slots expire and the tenant can open sockets again", async () => {
    const key = await createApiKey(stack.db, 'crashy');
    const api = spawnCli(['serve'], { ...stack.env, LOG_LEVEL: 'info' });
    const url = String((await api.waitForLog((l) => l.msg === 'API listening', 60_000)).url);
    const held = [await openSocket(`${wsOf(url)}/v1/events`, bearer(key.key)), await openSocket(`${wsOf(url)}/v1/events`, bearer(key.key))];
    assert.equal((await refusedUpgrade(`${stack.wsUrl}/v1/events`, bearer(key.key))).status, 429, "the other process's sockets count here");
    api.kill('SIGKILL');
    await api.exited;
    await Promise.all(held.map((h) => h.closed));
    const reopened = await waitFor(
      "the dead process's slots to expire",
      async () => {
        const answer = await upgrade(`${stack.wsUrl}/v1/events`, bearer(key.key));
        return answer.kind === 'open' ? answer : undefined;
      },
      90_000,
      1000,
    );
    reopened.socket.close();
  });
});

describe('revoking a key closes its sockets and voids its tickets on every API process', () => {
  let stack: Stack;
  let second: RunningServer;
  const wsOf = (url: string) => url.replace(/^http/, 'ws');
  before(async () => {
    stack = await startStack({ workers: 0 });
    second = await startServer(stack.config, pino({ level: 'silent' }));
  });
  after(async () => {
    await second?.close();
    await stack?.stop();
  });

  test("sockets opened with the key or its tickets, on both APIs, close with 4401; an unused ticket stops redeeming; the tenant's other key keeps its socket", async () => {
    const doomed = await createApiKey(stack.db, 'revoked-tenant');
    const kept = await createApiKey(stack.db, 'revoked-tenant');
    const job = (await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, bearer(doomed.key))).body;
    const ticketOn = async (url: string) => (await request(url, 'POST', '/v1/ws-tickets', undefined, bearer(doomed.key))).body.ticket as string;
    const sockets = [
      await openSocket(`${stack.wsUrl}/v1/events`, bearer(doomed.key)),
      await openSocket(`${wsOf(second.url)}/v1/jobs/${job.id}/events`, bearer(doomed.key)),
      await openSocket(`${wsOf(second.url)}/v1/events?ticket=${await ticketOn(stack.url)}`),
      await openSocket(`${stack.wsUrl}/v1/jobs/${job.id}/events?ticket=${await ticketOn(second.url)}`),
    ];
    const unused = [await ticketOn(stack.url), await ticketOn(second.url)];
    const survivor = await openSocket(`${wsOf(second.url)}/v1/events`, bearer(kept.key));

    assert.equal(await revokeApiKey(stack.db, doomed.id), true);
    for (const [i, socket] of sockets.entries()) {
      const closed = await closedWithin(socket, `socket ${i} of the revoked key`);
      assert.equal(closed.code, 4401, `socket ${i}`);
      assert.match(closed.reason, /revoked/);
    }
    for (const [i, ticket] of unused.entries()) {
      for (const url of [stack.wsUrl, wsOf(second.url)]) {
        const refused = await refusedUpgrade(`${url}/v1/events?ticket=${ticket}`);
        assert.equal(refused.status, 401, `unused ticket ${i} on ${url}`);
        assert.equal(refused.body.code, 'unauthorized');
      }
    }
    // A ticket of the revoked key minted now is refused at the door (the key no longer authenticates).
    assert.equal((await request(stack.url, 'POST', '/v1/ws-tickets', undefined, bearer(doomed.key))).status, 401);

    survivor.send({ type: 'subscribe', job_id: job.id });
    await survivor.waitFor((m) => m.object === 'event' && m.seq === 1);
    // It is followed live still, long after the revoked sockets were closed (several re-check periods).
    await appendEvents(stack.db, stack.redis, channelPrefixFor(stack.config.QUEUE_NAME), job.id, [{ type: 'log', data: { message: 'still here' } }]);
    await survivor.waitFor((m) => m.object === 'event' && m.seq === 2);
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(survivor.socket.readyState, survivor.socket.OPEN, "the other key's socket is open");
    survivor.socket.close();
  });
});
