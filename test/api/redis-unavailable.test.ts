/**
 * Redis out of reach is told by the errors' classes and codes, not their wording: the API answers 503
 * queue_unavailable with Retry-After, for a Redis on any port (not just 6379), and a Postgres socket
 * error is not taken for a Redis one. An API that has never reached Redis still answers every request
 * (nothing waits for a first connection), keeps what Postgres alone can keep, and enqueues once Redis comes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config.js';
import { createDb } from '../../src/db/client.js';
import { createRedis, isRedisUnavailable } from '../../src/redis.js';
import { freshDatabase } from '../support/database.js';
import { request, setDefaultKey, waitFor } from '../support/http.js';
import { freePort, type PrivateRedis, startPrivateRedis } from '../support/services.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.fail('expected a rejection');
}

/** A request that hangs fails its test here rather than stall the suite. */
const ANSWERS = { timeout: 20_000 };

const tinyJob = (name: string) => ({
  name,
  dataset: { source: 'builtin:synthetic', options: { samples: 200, classes: 2, features: 4 } },
  teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 1 } },
  student: { model: { preset: 'mlp-tiny' }, training: { epochs: 1 } },
});

describe('Redis out of reach', () => {
  let port: number;
  let server: RunningServer;
  let redis: PrivateRedis | undefined;

  before(async () => {
    port = await freePort();
    const config = loadConfig({
      DATABASE_URL: await freshDatabase(),
      REDIS_URL: `redis://127.0.0.1:${port}`,
      HOST: '127.0.0.1',
      PORT: '0',
      QUEUE_NAME: `t${port}`,
      MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    server = await startServer(config, pino({ level: 'silent' }));
    const db = createDb(config.DATABASE_URL, 1);
    setDefaultKey(server.url, (await createApiKey(db, 'tenant-a')).key);
    await db.$disconnect();
  });
  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  test('the API answers 503 queue_unavailable with Retry-After, naming Redis', async () => {
    // A WebSocket ticket lives in Redis only.
    const answer = await request(server.url, 'POST', '/v1/ws-tickets', {});
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.code, 'queue_unavailable');
    assert.equal(answer.headers.get('retry-after'), '5');
    assert.match(answer.body.detail, /Redis/);
  });

  test("the errors BullMQ and ioredis raise are recognised by class and code, and only for Redis's own port", async () => {
    const failFast = createRedis(`redis://127.0.0.1:${port}`, 'producer');
    const retrying = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => 50, lazyConnect: true });
    retrying.on('error', () => {});
    const queue = new Queue('unreachable', { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null } });
    queue.on('error', () => {});
    const postgres = new pg.Client({ host: '127.0.0.1', port: await freePort(), user: 'postgres' });
    try {
      const offline = await rejection(failFast.ping());
      const maxRetries = await rejection(retrying.ping());
      const refused = await rejection(queue.add('x', {}));
      const pgRefused = await rejection(postgres.connect());
      assert.equal((maxRetries as Error).name, 'MaxRetriesPerRequestError', String(maxRetries));
      for (const err of [offline, maxRetries, refused]) assert.ok(isRedisUnavailable(err, failFast), `not recognised: ${String(err)}`);
      assert.equal((pgRefused as NodeJS.ErrnoException).code, 'ECONNREFUSED');
      assert.equal(isRedisUnavailable(pgRefused, failFast), false, "a Postgres socket error is not Redis's");
      assert.equal(isRedisUnavailable(new Error('ERR wrong number of arguments'), failFast), false);
    } finally {
      failFast.disconnect();
      retrying.disconnect();
      await queue.close().catch(() => {});
    }
  });

  test('a job submitted before Redis was ever reached is kept in Postgres; reads, cancel and /metrics answer', ANSWERS, async () => {
    const created = await request(server.url, 'POST', '/v1/jobs', tinyJob('before-redis'));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, 'queued');
    const read = await request(server.url, 'GET', `/v1/jobs/${created.body.id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.status, 'queued');
    const metrics = await request(server.url, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    const cancelled = await request(server.url, 'POST', `/v1/jobs/${created.body.id}/cancel`);
    assert.ok(cancelled.status === 200 || cancelled.status === 202 || cancelled.status === 503, `${cancelled.status} ${JSON.stringify(cancelled.body)}`);
    if (cancelled.status === 503) assert.equal(cancelled.body.code, 'queue_unavailable');
    else assert.equal((await request(server.url, 'GET', `/v1/jobs/${created.body.id}`)).body.status, 'cancelled');
  });

  test('once Redis answers, the same API enqueues without a restart', ANSWERS, async () => {
    redis = await startPrivateRedis(port);
    const queue = new Queue(`t${port}`, { connection: { host: '127.0.0.1', port } });
    try {
      // Its connection comes back on its own (retry backoff); /readyz says when.
      await waitFor('the API to reconnect', async () => (await request(server.url, 'GET', '/readyz')).status === 200);
      const created = await request(server.url, 'POST', '/v1/jobs', tinyJob('after-redis'));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal((await queue.getJob(id))?.data.jobId, id);
    } finally {
      await queue.close();
    }
  });
});
