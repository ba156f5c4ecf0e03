import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { OPENAPI_PATH } from '../../src/api/plugins/docs.js';
import { type RunningServer, startServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';

/** Nothing listens on port 1: connections are refused at once. */
const CLOSED_REDIS = 'redis://127.0.0.1:1';
const CLOSED_POSTGRES = 'postgresql://postgres@127.0.0.1:1/distill';

const database = freshDatabase();

/** The real API (startServer: its own Prisma pool and Redis connection) on a free port. */
async function serve(env: { DATABASE_URL?: string; REDIS_URL?: string } = {}): Promise<RunningServer> {
  const config = loadConfig({ DATABASE_URL: await database, REDIS_URL, ...env, PORT: '0', LOG_LEVEL: 'silent' });
  const server = await startServer(config, createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' }));
  after(() => server.close());
  return server;
}

async function get(server: RunningServer, path: string) {
  const response = await fetch(`${server.url}${path}`);
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, type, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('health', () => {
  it('/healthz and /readyz answer 200 when Postgres and Redis are up', async () => {
    const server = await serve();
    const health = await get(server, '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json(), { status: 'ok' });
    const ready = await get(server, '/readyz');
    assert.equal(ready.status, 200, ready.text);
    const body = ready.json() as { status: string; checks: Record<string, { ok: boolean }> };
    assert.equal(body.status, 'ready');
    assert.equal(body.checks.postgres?.ok, true);
    assert.equal(body.checks.redis?.ok, true);
  });

  it('/readyz is 503 naming redis when Redis is unreachable; /healthz stays 200', async () => {
    const server = await serve({ REDIS_URL: CLOSED_REDIS });
    const ready = await get(server, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.type, /^application\/problem\+json/);
    const body = ready.json() as { down: string[]; detail: string; code: string; checks: Record<string, { ok: boolean }> };
    assert.deepEqual(body.down, ['redis']);
    assert.match(body.detail, /redis/);
    assert.equal(body.code, 'dependency_unavailable');
    assert.equal(body.checks.redis?.ok, false);
    assert.equal(body.checks.postgres?.ok, true);
    assert.equal((await get(server, '/healthz')).status, 200);
  });

  it('/readyz is 503 naming postgres when Postgres is unreachable', async () => {
    const server = await serve({ DATABASE_URL: CLOSED_POSTGRES });
    const ready = await get(server, '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json().down, ['postgres']);
  });

  it('/readyz names both when both are unreachable', async () => {
    const server = await serve({ DATABASE_URL: CLOSED_POSTGRES, REDIS_URL: CLOSED_REDIS });
    const ready = await get(server, '/readyz');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json().down, ['postgres', 'redis']);
  });
});

describe('API documentation', () => {
  it('/openapi.yaml serves openapi.yaml as written', async () => {
    const server = await serve();
    const spec = await get(server, '/openapi.yaml');
    assert.equal(spec.status, 200);
    assert.match(spec.type, /yaml/);
    assert.equal(spec.text, readFileSync(OPENAPI_PATH, 'utf8'));
    const doc = parse(spec.text) as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\.1\./);
    assert.ok(doc.paths['/readyz'] && doc.paths['/healthz']);
  });

  it('/docs serves the interactive page, reading the same contract', async () => {
    const server = await serve();
    const page = await get(server, '/docs');
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.text, /swagger-ui/i);
    const json = await get(server, '/docs/json');
    assert.equal(json.status, 200);
    const served = json.json() as { paths: Record<string, unknown> };
    const written = parse(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, unknown> };
    assert.deepEqual(Object.keys(served.paths).sort(), Object.keys(written.paths).sort());
  });
});
