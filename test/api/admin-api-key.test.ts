/**
 * ADMIN_API_KEY: the first key of a container deployment (docker-compose.yml passes it to the API). The API
 * stores it hashed as an admin key of tenant "default" when it starts; every later start, and several API
 * processes starting at once, leave exactly that one key; a revoked key stays revoked; a malformed value is a
 * configuration error that names the setting without repeating the value.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createDb } from '../../src/db/client.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';
import { request } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';

const newKey = () => `dsk_${randomBytes(32).toString('base64url')}`;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('ADMIN_API_KEY', () => {
  let databaseUrl: string;
  let client: pg.Client;
  const running = new Set<RunningServer>();
  const queue = `t${randomBytes(5).toString('hex')}`;

  const start = async (adminKey: string) => {
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      QUEUE_NAME: queue,
      HOST: '127.0.0.1',
      PORT: '0',
      ADMIN_API_KEY: adminKey,
      // The API runs in this test's process: its event-loop lag is the test's own (test/support/stack.ts says why).
      MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    const server = await startServer(config, pino({ level: 'silent' }));
    running.add(server);
    return server;
  };
  const stop = async (server: RunningServer) => {
    running.delete(server);
    await server.close();
  };
  const keyRows = async () =>
    (
      await client.query<{ hash: string; admin: boolean; revoked: boolean; tenant: string }>(
        'SELECT k.hash, k.admin, k.revoked_at IS NOT NULL AS revoked, t.name AS tenant FROM api_keys k JOIN tenants t ON t.id = k.tenant_id ORDER BY k.created_at',
      )
    ).rows;

  before(async () => {
    databaseUrl = await freshDatabase();
    client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
  });
  after(async () => {
    await Promise.all([...running].map((s) => s.close()));
    await client?.end();
  });

  const key = newKey();

  test('the first start stores it hashed as an admin key of tenant "default", and it works at once', async () => {
    const server = await start(key);
    const rows = await keyRows();
    assert.deepEqual(rows, [{ hash: createHash('sha256').update(key).digest('hex'), admin: true, revoked: false, tenant: 'default' }]);
    const stored = JSON.stringify((await client.query('SELECT * FROM api_keys')).rows);
    assert.ok(!stored.includes(key), 'the key itself is stored nowhere');

    assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, bearer(key))).status, 200);
    // An admin key reads other tenants' jobs.
    const db = createDb(databaseUrl, 1);
    const other = await createApiKey(db, 'tenant-b');
    await db.$disconnect();
    const job = await request(server.url, 'POST', '/v1/jobs', QUICK_JOB, bearer(other.key));
    assert.equal(job.status, 201);
    const seen = await request(server.url, 'GET', `/v1/jobs/${job.body.id}`, undefined, bearer(key));
    assert.equal(seen.status, 200);
    assert.equal(seen.body.id, job.body.id);
    await stop(server);
  });

  test('restarts, and API processes starting together, leave that one key', async () => {
    const servers = await Promise.all([start(key), start(key), start(key)]);
    const admins = (await keyRows()).filter((r) => r.tenant === 'default');
    assert.equal(admins.length, 1);
    for (const server of servers) assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, bearer(key))).status, 200);
    await Promise.all(servers.map(stop));
  });

  test('a revoked ADMIN_API_KEY stays revoked across restarts', async () => {
    await client.query('UPDATE api_keys SET revoked_at = now() WHERE hash = $1', [createHash('sha256').update(key).digest('hex')]);
    const server = await start(key);
    assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, bearer(key))).status, 401);
    assert.equal((await keyRows()).filter((r) => r.tenant === 'default').length, 1, 'no second key made in its place');
    await stop(server);
  });

  test('a malformed value is a configuration error naming ADMIN_API_KEY, without the value', () => {
    const secret = 'not-a-key-but-maybe-a-password';
    assert.throws(
      () => loadConfig({ ADMIN_API_KEY: secret }),
      (err: unknown) => err instanceof ConfigError && /ADMIN_API_KEY/.test(err.message) && !err.message.includes(secret),
    );
    assert.equal(loadConfig({ ADMIN_API_KEY: '' }).ADMIN_API_KEY, '', 'empty: no key');
  });
});
