/**
 * Tenants and API keys (issue 6): every route answers 401 without a valid key (none, malformed, unknown,
 * revoked), 404 to another tenant's ids exactly as to ids that do not exist, and success to the owner;
 * lists never show another tenant's jobs, admin keys see every tenant. WebSockets are refused before the
 * upgrade without valid auth; tickets are single-use and expire; Origins are checked. Keys, tickets and
 * webhook secrets never reach the API's logs, and a 5xx body says nothing internal.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { Redis } from 'ioredis';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { createApiKey, type CreatedKey, revokeApiKey } from '../../src/auth/api-keys.js';
import { loadConfig } from '../../src/config.js';
import { createDb, type Db } from '../../src/db/client.js';
import { newId } from '../../src/ids.js';
import { REDACTED_PATHS } from '../../src/log.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';
import { request, waitFor, type Response } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { upgrade } from '../support/ws.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
/** A well-formed key no deployment ever issued. */
const UNKNOWN_KEY = `dsk_${'A'.repeat(43)}`;
const MARKER = 'tenant-a-private-marker-7f3c';
/** Refused requests this file may send from one address before it would be throttled (429). */
const MANY_REFUSALS = { UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE: '100000' };

describe('tenants, API keys and WebSocket auth', () => {
  let stack: Stack;
  let revoked: CreatedKey;
  /** Tenant a's job: succeeded, with artifacts. */
  let jobA: { id: string };
  /** Tenant b's job: cancelled while queued. */
  let jobB: { id: string };
  /** a's dataset and model; and one of each for the owner's DELETE. */
  let datasetA: { id: string };
  let datasetDel: { id: string };
  let modelA: { id: string };
  let modelDel: { id: string };
  let studentFiles: { json: Buffer; weights: Buffer };

  before(async () => {
    // Hundreds of refused requests from this one address: the per-address budget is test/api/auth-limits.test.ts's.
    stack = await startStack({ workers: 0, env: { WS_ALLOWED_ORIGINS: 'https://dashboard.example, https://ops.example', ...MANY_REFUSALS } });
    revoked = await createApiKey(stack.db, 'tenant-a');
    assert.equal(await revokeApiKey(stack.db, revoked.id), true);
    // b's job first, cancelled at once (no worker yet); then a's, which the worker trains.
    const b = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'b-job' }, bearer(stack.keys.b.key));
    assert.equal(b.status, 201, JSON.stringify(b.body));
    jobB = b.body;
    assert.equal((await request(stack.url, 'POST', `/v1/jobs/${jobB.id}/cancel`, undefined, bearer(stack.keys.b.key))).body.status, 'cancelled');
    const a = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: MARKER, metadata: { owner: MARKER } }, { 'idempotency-key': 'shared-key' });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    jobA = a.body;
    await stack.startWorker();
    // a's resources: a dataset, one to delete, and models (those the job registers, plus two uploads).
    datasetA = (await postForm(stack.url, '/v1/datasets', datasetForm(1), stack.keys.a.key)).body;
    datasetDel = (await postForm(stack.url, '/v1/datasets', datasetForm(2), stack.keys.a.key)).body;
    assert.match(datasetA.id ?? '', /^ds_/, JSON.stringify(datasetA));
    assert.match(datasetDel.id ?? '', /^ds_/, JSON.stringify(datasetDel));
    await waitFor(
      'job A to succeed',
      async () => {
        const job = (await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`)).body;
        assert.ok(!['failed', 'cancelled'].includes(job.status), JSON.stringify(job.error));
        return job.status === 'succeeded';
      },
      180_000,
      300,
    );
    const file = async (name: string) =>
      Buffer.from(await (await fetch(`${stack.url}/v1/jobs/${jobA.id}/artifacts/student/${name}`, { headers: bearer(stack.keys.a.key) })).arrayBuffer());
    studentFiles = { json: await file('model.json'), weights: await file('weights.bin') };
    modelA = (await request(stack.url, 'GET', `/v1/models?source_job=${jobA.id}`)).body.data[0];
    assert.match(modelA?.id ?? '', /^mdl_/, 'the finished job registered its models');
    modelDel = (await postForm(stack.url, '/v1/models', modelForm(studentFiles), stack.keys.a.key)).body;
    assert.match(modelDel.id ?? '', /^mdl_/, JSON.stringify(modelDel));
  });
  after(() => stack?.stop());

  /** Every credential that must be refused, as the headers that carry it. */
  const refusedCredentials = (): Array<[string, Record<string, string>]> => [
    ['no Authorization header', { authorization: '' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['a bare key without "Bearer"', { authorization: stack.keys.a.key }],
    ['Basic auth', { authorization: `Basic ${Buffer.from(`x:${stack.keys.a.key}`).toString('base64')}` }],
    ['a truncated key', bearer(stack.keys.a.key.slice(0, -1))],
    ['a key with a character added', bearer(`${stack.keys.a.key}x`)],
    ['a key and something after it', { authorization: `Bearer ${stack.keys.a.key} extra` }],
    ['a well-formed unknown key', bearer(UNKNOWN_KEY)],
    ['a key without its prefix', bearer(stack.keys.a.key.slice(4))],
    ['a revoked key', bearer(revoked.key)],
  ];

  interface Route {
    method: string;
    path: string;
    /** The status the owner gets. */
    own: number;
    /** The route names one of a's resources: another tenant gets 404. */
    scoped?: boolean;
    /** Sends the request with these headers (a JSON body, a form, or none). */
    send(headers: Record<string, string>, path?: string): Promise<Response>;
  }

  /** Every /v1 HTTP route, on tenant a's resources, with the status its owner gets. */
  const routes = (): Route[] => {
    const plain = (method: string, path: string, own: number, scoped = false, body?: unknown): Route => ({
      method,
      path,
      own,
      scoped,
      send: (headers, at = path) => request(stack.url, method, at, body, headers),
    });
    const form = (path: string, own: number, make: () => FormData): Route => ({
      method: 'POST',
      path,
      own,
      send: (headers, at = path) => postForm(stack.url, at, make(), undefined, headers),
    });
    return [
      plain('GET', '/v1/jobs', 200),
      plain('POST', '/v1/jobs', 201, false, { ...QUICK_JOB, name: 'matrix' }),
      plain('GET', `/v1/jobs/${jobA.id}`, 200, true),
      plain('POST', `/v1/jobs/${jobA.id}/cancel`, 200, true),
      plain('GET', `/v1/jobs/${jobA.id}/events`, 200, true),
      plain('GET', `/v1/jobs/${jobA.id}/artifacts`, 200, true),
      plain('GET', `/v1/jobs/${jobA.id}/artifacts/student/model.json`, 200, true),
      plain('GET', `/v1/jobs/${jobA.id}/artifacts/student/weights.bin`, 200, true),
      plain('GET', `/v1/jobs/${jobA.id}/artifacts/report/report.json`, 200, true),
      plain('POST', '/v1/ws-tickets', 201),
      // The socket-only route answers a plain GET with 426 once the caller is known.
      plain('GET', '/v1/events', 426),
      form('/v1/datasets', 201, () => datasetForm(3)),
      plain('GET', '/v1/datasets', 200),
      plain('GET', `/v1/datasets/${datasetA.id}`, 200, true),
      plain('DELETE', `/v1/datasets/${datasetDel.id}`, 200, true),
      form('/v1/models', 201, () => modelForm(studentFiles)),
      plain('GET', '/v1/models', 200),
      plain('GET', `/v1/models/${modelA.id}`, 200, true),
      plain('GET', `/v1/models/${modelA.id}/model.json`, 200, true),
      plain('GET', `/v1/models/${modelA.id}/weights.bin`, 200, true),
      plain('DELETE', `/v1/models/${modelDel.id}`, 200, true),
    ];
  };

  test('no key, malformed keys, unknown and revoked keys: 401 unauthorized on every /v1 route, revealing nothing', async () => {
    const before = await counts();
    for (const route of routes()) {
      const details = new Set<string>();
      for (const [what, headers] of refusedCredentials()) {
        const answer = await route.send(headers);
        const where = `${route.method} ${route.path} with ${what}`;
        assert.equal(answer.status, 401, `${where}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/, where);
        assert.deepEqual(Object.keys(answer.body).sort(), ['code', 'detail', 'instance', 'status', 'title', 'type'], where);
        assert.equal(answer.body.code, 'unauthorized', where);
        assert.equal(answer.body.instance, route.path, where);
        assertNoLeak(answer, where);
        details.add(answer.body.detail);
      }
      // A refused key is refused the same way whatever is wrong with it: no oracle for "exists but revoked".
      const refusals = await Promise.all([bearer(UNKNOWN_KEY), bearer(revoked.key)].map((h) => route.send(h)));
      assert.equal(refusals[0]!.body.detail, refusals[1]!.body.detail, 'an unknown and a revoked key get the same answer');
      assert.ok(details.size <= 3, `a few fixed messages, not one per key: ${[...details].join(' | ')}`);
    }
    assert.deepEqual(await counts(), before, 'no refused request created or deleted anything');
    assert.equal((await stack.db.job.findUniqueOrThrow({ where: { id: jobA.id } })).status, 'succeeded', 'no refused cancel touched the job');
  });

  const aData = async () => ({
    job: await stack.db.job.findUniqueOrThrow({ where: { id: jobA.id } }),
    datasets: await stack.db.dataset.findMany({ orderBy: { id: 'asc' } }),
    models: await stack.db.model.findMany({ orderBy: { id: 'asc' } }),
  });
  const counts = async () => ({ jobs: await stack.db.job.count(), datasets: await stack.db.dataset.count(), models: await stack.db.model.count() });

  test("another tenant's key: 404 on every id of tenant a, identical to an id that does not exist; nothing changes", async () => {
    const before = await aData();
    for (const route of routes().filter((r) => r.scoped)) {
      const [, id, prefix] = /\/v1\/(?:jobs|datasets|models)\/((job|ds|mdl)_[0-9a-z]{26})/.exec(route.path) ?? [];
      assert.ok(id && prefix, route.path);
      const missing = newId(prefix as 'job');
      const foreign = await route.send(bearer(stack.keys.b.key));
      const absent = await route.send(bearer(stack.keys.b.key), route.path.replace(id, missing));
      const where = `${route.method} ${route.path} with b's key`;
      assert.equal(foreign.status, 404, `${where}: ${JSON.stringify(foreign.body).slice(0, 300)}`);
      assert.equal(foreign.body.code, 'not_found', where);
      assertSameAnswer(foreign, absent, id, missing, where);
      assertNoLeak(foreign, where);
    }
    assert.deepEqual(await aData(), before, "b's cancel and deletes changed nothing of a's");

    // And the other way round: a cannot cancel or read b's job.
    const cancel = await request(stack.url, 'POST', `/v1/jobs/${jobB.id}/cancel`);
    assert.equal(cancel.status, 404);
    const read = await request(stack.url, 'GET', `/v1/jobs/${jobB.id}/events`);
    assert.equal(read.status, 404);
  });

  test('the owner\'s key succeeds on every route (a "bearer" scheme in any case too)', async () => {
    for (const route of routes()) {
      const answer = await route.send(bearer(stack.keys.a.key));
      assert.equal(answer.status, route.own, `${route.method} ${route.path}: ${JSON.stringify(answer.body).slice(0, 300)}`);
    }
    const lower = await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`, undefined, { authorization: `bearer ${stack.keys.a.key}` });
    assert.equal(lower.status, 200);
    const jobs = await request(stack.url, 'GET', '/v1/jobs?limit=100');
    const matrix = jobs.body.data.find((j: { name: string }) => j.name === 'matrix');
    assert.ok(matrix, 'the job a created is listed for a');
    await request(stack.url, 'POST', `/v1/jobs/${matrix.id}/cancel`);
    assert.equal(await stack.db.dataset.count({ where: { id: datasetDel.id } }), 0, 'the owner deleted the dataset');
    assert.equal(await stack.db.model.count({ where: { id: modelDel.id } }), 0, 'the owner deleted the model');
    // Health and docs stay public.
    for (const path of ['/healthz', '/readyz', '/openapi.yaml']) {
      assert.equal((await request(stack.url, 'GET', path, undefined, { authorization: '' })).status, 200, path);
    }
  });

  test('lists: a tenant sees only its own jobs, through every filter and cursor; an admin key sees both tenants', async () => {
    const ofTenant = async (tenant: string) =>
      new Set((await stack.db.job.findMany({ where: { tenant: { name: tenant } }, select: { id: true } })).map((j) => j.id));
    const aJobs = await ofTenant('tenant-a');
    const bJobs = await ofTenant('tenant-b');
    const listed = async (key: string, query: string) => {
      const answer = await request(stack.url, 'GET', `/v1/jobs${query}`, undefined, bearer(key));
      assert.equal(answer.status, 200, `${query}: ${JSON.stringify(answer.body)}`);
      if (key === stack.keys.b.key) assertNoLeak(answer, `b lists ${query}`);
      return (answer.body.data as Array<{ id: string }>).map((j) => j.id);
    };
    const cursorAfterAll = newId('job', Date.now() + 60_000);
    for (const query of [
      '',
      '?limit=100',
      '?status=succeeded',
      '?status=cancelled',
      '?status=queued',
      `?after=${cursorAfterAll}`,
      `?after=${jobA.id}`,
      '?limit=1',
    ]) {
      const forB = await listed(stack.keys.b.key, query);
      assert.ok(
        forB.every((id) => bJobs.has(id)),
        `b's list ${query} holds only b's jobs: ${forB}`,
      );
      const forA = await listed(stack.keys.a.key, query);
      assert.ok(
        forA.every((id) => aJobs.has(id)),
        `a's list ${query} holds only a's jobs`,
      );
    }
    assert.deepEqual(await listed(stack.keys.b.key, '?limit=100'), [...bJobs].sort().reverse());

    for (const [path, own] of [
      ['/v1/datasets?limit=100', [datasetA.id]],
      ['/v1/models?limit=100', [modelA.id]],
    ] as const) {
      const forB = await request(stack.url, 'GET', path, undefined, bearer(stack.keys.b.key));
      assert.equal(forB.status, 200);
      const ids = (forB.body.data as Array<{ id: string }>).map((d) => d.id);
      assert.deepEqual(
        ids.filter((id) => !id.startsWith('builtin:')),
        [],
        `b lists none of a's ${path}`,
      );
      const forAdmin = (await request(stack.url, 'GET', path, undefined, bearer(stack.keys.admin.key))).body.data.map((d: { id: string }) => d.id);
      for (const id of own) assert.ok(forAdmin.includes(id), `the admin key lists ${id}`);
    }
    for (const path of [`/v1/models?source_job=${jobA.id}`, `/v1/models?source=job`, `/v1/datasets?after=${newId('ds', Date.now() + 60_000)}`]) {
      const forB = await request(stack.url, 'GET', path, undefined, bearer(stack.keys.b.key));
      assert.equal(forB.status, 200, path);
      assert.deepEqual(
        forB.body.data.filter((d: { id: string }) => !d.id.startsWith('builtin:')),
        [],
        `b through ${path}`,
      );
    }

    const all = await listed(stack.keys.admin.key, '?limit=100');
    assert.deepEqual(new Set(all), new Set([...aJobs, ...bJobs]), "the admin key lists every tenant's jobs");
    for (const id of [jobA.id, jobB.id]) {
      for (const path of [`/v1/jobs/${id}`, `/v1/jobs/${id}/events`, `/v1/jobs/${id}/artifacts`]) {
        assert.equal((await request(stack.url, 'GET', path, undefined, bearer(stack.keys.admin.key))).status, 200, `admin ${path}`);
      }
    }
    for (const path of [
      `/v1/jobs/${jobA.id}/artifacts/student/model.json`,
      `/v1/datasets/${datasetA.id}`,
      `/v1/models/${modelA.id}`,
      `/v1/models/${modelA.id}/weights.bin`,
    ]) {
      assert.equal((await request(stack.url, 'GET', path, undefined, bearer(stack.keys.admin.key))).status, 200, `admin ${path}`);
    }
  });

  test("Idempotency-Key is per tenant: b reusing a's key and body gets a job of its own, not a replay of a's", async () => {
    const body = { ...QUICK_JOB, name: MARKER, metadata: { owner: MARKER } };
    const answer = await request(stack.url, 'POST', '/v1/jobs', body, { ...bearer(stack.keys.b.key), 'idempotency-key': 'shared-key' });
    assert.equal(answer.status, 201);
    assert.notEqual(answer.body.id, jobA.id);
    assert.equal(answer.headers.get('idempotent-replayed'), null);
    const row = await stack.db.job.findUniqueOrThrow({ where: { id: answer.body.id }, include: { tenant: true } });
    assert.equal(row.tenant.name, 'tenant-b');
    await request(stack.url, 'POST', `/v1/jobs/${answer.body.id}/cancel`, undefined, bearer(stack.keys.b.key));
    // a's replay still finds a's job.
    const replay = await request(stack.url, 'POST', '/v1/jobs', body, { 'idempotency-key': 'shared-key' });
    assert.equal(replay.body.id, jobA.id);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  });

  describe('WebSockets', () => {
    const perJob = () => `${stack.wsUrl}/v1/jobs/${jobA.id}/events?after=0`;
    const multi = () => `${stack.wsUrl}/v1/events`;

    test('without valid auth both sockets are refused before the upgrade: an HTTP 401, never a 101', async () => {
      for (const url of [perJob(), multi()]) {
        for (const [what, headers] of refusedCredentials()) {
          const outcome = await upgrade(url, headers.authorization ? headers : {});
          assert.equal(outcome.kind, 'refused', `${url} with ${what} was upgraded`);
          assert.equal(outcome.status, 401, `${url} with ${what}`);
          assert.equal(outcome.body.code, 'unauthorized');
          assert.match(outcome.headers.get('content-type') ?? '', /^application\/problem\+json/);
        }
        const garbage = await upgrade(`${url}${url.includes('?') ? '&' : '?'}ticket=wst_${'x'.repeat(32)}`);
        assert.equal(garbage.kind === 'refused' && garbage.status, 401, 'an unknown ticket');
      }
    });

    test("the owner's key opens both sockets; another tenant's key sees its jobs as nonexistent", async () => {
      const own = await upgrade(perJob(), bearer(stack.keys.a.key));
      assert.equal(own.kind, 'open');
      const ended = await own.closed;
      assert.equal(ended.code, 1000, ended.reason);
      assert.equal(own.messages.at(-1)?.data?.status, 'succeeded');

      const missing = newId('job');
      const foreign = await upgrade(perJob(), bearer(stack.keys.b.key));
      const absent = await upgrade(perJob().replace(jobA.id, missing), bearer(stack.keys.b.key));
      assert.equal(foreign.kind, 'open');
      assert.equal(absent.kind, 'open');
      const [f, m] = [await foreign.closed, await absent.closed];
      assert.equal(f.code, 4404);
      assert.deepEqual({ ...f, reason: f.reason.replace(jobA.id, 'ID') }, { ...m, reason: m.reason.replace(missing, 'ID') });
      assert.deepEqual(foreign.messages, [], "not one event of a's job reached b");

      const socket = await upgrade(multi(), bearer(stack.keys.b.key));
      assert.equal(socket.kind, 'open');
      socket.send({ type: 'subscribe', job_id: jobA.id });
      socket.send({ type: 'subscribe', job_id: missing });
      socket.send({ type: 'subscribe', job_id: jobB.id });
      await socket.waitFor((m) => m.type === 'subscribed' && m.job_id === jobB.id);
      const refusedA = await socket.waitFor((m) => m.type === 'error' && m.job_id === jobA.id);
      const refusedMissing = await socket.waitFor((m) => m.type === 'error' && m.job_id === missing);
      assert.deepEqual(
        { ...refusedA, job_id: 'ID', message: refusedA.message.replace(jobA.id, 'ID') },
        { ...refusedMissing, job_id: 'ID', message: refusedMissing.message.replace(missing, 'ID') },
      );
      await socket.waitFor((m) => m.object === 'event' && m.job_id === jobB.id && m.data?.status === 'cancelled');
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(
        socket.messages.every((m) => m.job_id !== jobA.id || m.type === 'error'),
        "no event of a's job on b's socket",
      );
      socket.socket.close();

      const admin = await upgrade(perJob(), bearer(stack.keys.admin.key));
      assert.equal(admin.kind, 'open');
      assert.equal((await admin.closed).code, 1000, "the admin key follows any tenant's job");
    });

    test('a ticket opens one socket once: reused, it is refused; it is no key for REST; it carries its tenant', async () => {
      const issued = await request(stack.url, 'POST', '/v1/ws-tickets');
      assert.equal(issued.status, 201);
      assert.equal(issued.body.object, 'ws_ticket');
      assert.match(issued.body.ticket, /^wst_[A-Za-z0-9_-]{32}$/);
      const expiresIn = Date.parse(issued.body.expires_at) - Date.now();
      assert.ok(expiresIn > 0 && expiresIn <= stack.config.WS_TICKET_TTL_SECONDS * 1000 + 1000, `expires in ${expiresIn} ms`);
      const ticket = issued.body.ticket as string;

      // On a plain request the ticket is not a credential, and is not spent.
      const rest = await request(stack.url, 'GET', `/v1/jobs?ticket=${ticket}`, undefined, { authorization: '' });
      assert.equal(rest.status, 401);

      const first = await upgrade(`${multi()}?ticket=${ticket}`);
      assert.equal(first.kind, 'open', 'the ticket opens the socket');
      first.send({ type: 'subscribe', job_id: jobA.id });
      first.send({ type: 'subscribe', job_id: jobB.id });
      await first.waitFor((m) => m.object === 'event' && m.job_id === jobA.id && m.data?.status === 'succeeded');
      const notB = await first.waitFor((m) => m.type === 'error' && m.job_id === jobB.id);
      assert.equal(notB.code, 'not_found', "a ticket of tenant a sees b's job as nonexistent");
      first.socket.close();

      const again = await upgrade(`${multi()}?ticket=${ticket}`);
      assert.equal(again.kind, 'refused', 'a used ticket cannot be reused');
      assert.equal(again.status, 401);
      assert.equal(again.body.code, 'unauthorized');
      const elsewhere = await upgrade(`${perJob()}&ticket=${ticket}`);
      assert.equal(elsewhere.kind === 'refused' && elsewhere.status, 401, 'not on the other socket either');
    });

    test('a ticket opens the per-job socket too (browsers have no other way to authenticate it)', async () => {
      const { ticket } = (await request(stack.url, 'POST', '/v1/ws-tickets')).body;
      const socket = await upgrade(`${perJob()}&ticket=${ticket}`);
      assert.equal(socket.kind, 'open', socket.kind === 'refused' ? `${socket.status} ${JSON.stringify(socket.body)}` : '');
      assert.equal((await socket.closed).code, 1000);
      assert.equal(socket.messages.at(-1)?.data?.status, 'succeeded');
    });

    test('a refused upgrade (auth, Origin, router, id) leaves no connection open on the server', async () => {
      const open = () => new Promise<number>((resolve, reject) => stack.server.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
      await new Promise((r) => setTimeout(r, 200));
      const before = await open();
      for (const headers of [{}, bearer(UNKNOWN_KEY), { ...bearer(stack.keys.a.key), origin: 'https://evil.example' }]) {
        for (let i = 0; i < 3; i++) assert.equal((await upgrade(multi(), headers)).kind, 'refused');
      }
      // Refused by the router (an id over its length limit: 400) and by the id check (a malformed id: 404).
      for (const id of ['x'.repeat(200), '%00']) {
        const refused = await upgrade(`${stack.wsUrl}/v1/jobs/${id}/events`, bearer(stack.keys.a.key));
        assert.ok(refused.kind === 'refused' && [400, 404].includes(refused.status), `job id ${id.slice(0, 8)}…: ${JSON.stringify(refused)}`);
      }
      await new Promise((r) => setTimeout(r, 300));
      const afterwards = await open();
      assert.ok(afterwards <= before, `${afterwards - before} sockets of refused upgrades still open (a file descriptor each, and the server cannot close)`);
    });

    test('Origin: a foreign page is refused with 403 before the upgrade (its ticket not spent); allow-listed and same-origin pages are not', async () => {
      for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1', 'https://dashboard.example.evil.example']) {
        for (const url of [perJob(), multi()]) {
          const refused = await upgrade(url, { ...bearer(stack.keys.a.key), origin });
          assert.equal(refused.kind, 'refused', `${origin} on ${url}`);
          assert.equal(refused.status, 403);
          assert.equal(refused.body.code, 'origin_not_allowed');
        }
      }
      const { ticket } = (await request(stack.url, 'POST', '/v1/ws-tickets')).body;
      const evil = await upgrade(`${multi()}?ticket=${ticket}`, { origin: 'https://evil.example' });
      assert.equal(evil.kind === 'refused' && evil.status, 403);
      const allowed = await upgrade(`${multi()}?ticket=${ticket}`, { origin: 'https://dashboard.example' });
      assert.equal(allowed.kind, 'open', 'the allow-listed origin opens it, with the ticket the foreign page could not spend');
      allowed.socket.close();
      for (const origin of ['https://ops.example', stack.url]) {
        const open = await upgrade(perJob(), { ...bearer(stack.keys.a.key), origin });
        assert.equal(open.kind, 'open', origin);
        await open.closed;
      }
      // Servers send no Origin at all.
      const server = await upgrade(multi(), bearer(stack.keys.a.key));
      assert.equal(server.kind, 'open');
      server.socket.close();
    });
  });

  test('revoking a key takes effect on the next request', async () => {
    const key = await createApiKey(stack.db, 'tenant-a');
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`, undefined, bearer(key.key))).status, 200);
    await revokeApiKey(stack.db, key.id);
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`, undefined, bearer(key.key))).status, 401);
    assert.equal((await upgrade(`${stack.wsUrl}/v1/events`, bearer(key.key))).kind, 'refused');
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`)).status, 200, "the tenant's other keys still work");
  });

  /** No answer to tenant b carries anything of tenant a's job but the id b itself asked for. */
  function assertNoLeak(answer: Response, where: string): void {
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    assert.ok(!text.includes(MARKER), `${where}: a's name or metadata leaked`);
    if (answer.status >= 400) assert.ok(!/stack|prisma|at .*\.ts:\d+/i.test(text), `${where}: internals in the body`);
  }
});

describe('tickets expire', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 0, env: { WS_TICKET_TTL_SECONDS: '1', ...MANY_REFUSALS } });
  });
  after(() => stack?.stop());

  test('a ticket unused past WS_TICKET_TTL_SECONDS is refused with 401', async () => {
    const fresh = (await request(stack.url, 'POST', '/v1/ws-tickets')).body;
    const stale = (await request(stack.url, 'POST', '/v1/ws-tickets')).body;
    assert.ok(Date.parse(stale.expires_at) - Date.now() <= 1000);
    const ok = await upgrade(`${stack.wsUrl}/v1/events?ticket=${fresh.ticket}`);
    assert.equal(ok.kind, 'open', 'used at once, it works');
    ok.socket.close();
    await new Promise((r) => setTimeout(r, 2200));
    const late = await upgrade(`${stack.wsUrl}/v1/events?ticket=${stale.ticket}`);
    assert.equal(late.kind, 'refused', 'an expired ticket opened a socket');
    assert.equal(late.status, 401);
    assert.equal(late.body.code, 'unauthorized');
  });
});

describe('hygiene: secrets never reach the logs; a 5xx body says nothing internal', () => {
  const lines: string[] = [];
  let server: RunningServer;
  let db: Db;
  let databaseUrl: string;
  let queueName: string;

  before(async () => {
    databaseUrl = await freshDatabase();
    queueName = `t${Math.random().toString(36).slice(2, 10)}`;
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      QUEUE_NAME: queueName,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'trace',
      WEBHOOK_ALLOWED_HOSTS: '',
      // No overload shedding: a busy test machine would get 503s unrelated to what is checked here.
    });
    // The product's logger options (src/log.ts), writing to a buffer, at the most verbose level.
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    server = await startServer(config, pino({ level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink));
    db = createDb(databaseUrl, 2);
  });
  after(async () => {
    await server?.close();
    await db?.$disconnect();
    const redis = new Redis(REDIS_URL);
    for (const pattern of [`bull:${queueName}:*`, `distill:${queueName}:*`]) {
      const keys = await redis.keys(pattern);
      if (keys.length) await redis.del(...keys);
    }
    redis.disconnect();
  });

  test('API keys, WebSocket tickets and webhook secrets appear in no log line, at level trace', async () => {
    const key = await createApiKey(db, 'logged');
    const revokedKey = await createApiKey(db, 'logged');
    await revokeApiKey(db, revokedKey.id);
    const h = bearer(key.key);
    const secret = 'whsec_log-canary-5e1d9a';
    assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, h)).status, 200);
    assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, bearer(revokedKey.key))).status, 401);
    assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, bearer(UNKNOWN_KEY))).status, 401);
    assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, { authorization: `Basic ${key.key}` })).status, 401);
    const refused = await request(server.url, 'POST', '/v1/jobs', { ...QUICK_JOB, webhook: { url: 'http://hooks.invalid/x', secret } }, h);
    assert.equal(refused.status, 400, 'the webhook host is not allowed');
    const tickets: string[] = [];
    for (let i = 0; i < 3; i++) tickets.push((await request(server.url, 'POST', '/v1/ws-tickets', undefined, h)).body.ticket);
    const wsUrl = server.url.replace(/^http/, 'ws');
    const opened = await upgrade(`${wsUrl}/v1/events?ticket=${tickets[0]}`);
    assert.equal(opened.kind, 'open');
    opened.socket.close();
    assert.equal((await upgrade(`${wsUrl}/v1/events?ticket=${tickets[0]}`)).kind, 'refused', 'reused');
    await upgrade(`${wsUrl}/v1/events?after=0&ticket=${tickets[1]}&x=1`, { origin: 'https://evil.example' });
    await upgrade(`${wsUrl}/v1/jobs/${newId('job')}/events?ticket=${tickets[2]}`);
    await upgrade(`${wsUrl}/v1/events?ticket=wst_${'z'.repeat(32)}`);
    await new Promise((r) => setTimeout(r, 300));

    const log = lines.join('');
    assert.ok(lines.length >= 10, `the API logged (${lines.length} lines)`);
    assert.match(log, /ticket=\[redacted\]/, 'the upgrades were logged, their tickets redacted');
    for (const [what, value] of [
      ['the API key', key.key],
      ['the API key without its prefix', key.key.slice(4)],
      ['a revoked key', revokedKey.key],
      ['an unknown key', UNKNOWN_KEY],
      ['a webhook secret', secret],
      ...tickets.map((t, i) => [`ticket ${i}`, t] as [string, string]),
      ...tickets.map((t, i) => [`ticket ${i} without its prefix`, t.slice(4)] as [string, string]),
    ] as Array<[string, string]>) {
      assert.ok(!log.includes(value), `${what} is in the log:\n${lines.filter((l) => l.includes(value)).join('')}`);
    }
  });

  test('an internal failure answers 500 internal_error with no stack, no SQL, no message; the log has it under the request id', async () => {
    const key = await createApiKey(db, 'broken');
    // Break this test's own database only: the jobs table disappears under the running API.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query('ALTER TABLE jobs RENAME TO jobs_moved_by_test');
      const answer = await request(server.url, 'GET', '/v1/jobs', undefined, { ...bearer(key.key), 'x-request-id': 'req-5xx-check' });
      assert.equal(answer.status, 500, JSON.stringify(answer.body));
      assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.deepEqual(answer.body, {
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        code: 'internal_error',
        detail: 'internal error',
        instance: '/v1/jobs',
      });
      assert.equal(answer.headers.get('x-request-id'), 'req-5xx-check');
      const logged = lines.find((l) => l.includes('req-5xx-check') && l.includes('"level":50'));
      assert.ok(logged, 'the failure is logged at error level with the request id');
      assert.match(logged, /jobs/, 'the log line has the details the body does not');
    } finally {
      await client.query('ALTER TABLE jobs_moved_by_test RENAME TO jobs').catch(() => {});
      await client.end();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

/** A small CSV dataset (4 features, 2 classes); `variant` makes its bytes, and so the dataset, distinct. */
function datasetForm(variant: number): FormData {
  const rows = Array.from({ length: 40 }, (_, i) => {
    const label = i % 2;
    const features = Array.from({ length: 4 }, (_, j) => ((label * 2 - 1) * (j + 1) + ((i * 7 + j * 3 + variant) % 5) / 10).toFixed(2));
    return [...features, label ? 'yes' : 'no'].join(',');
  });
  const form = new FormData();
  form.append('name', `dataset ${variant}`);
  form.append('label_column', 'label');
  form.append('csv', new Blob([`f0,f1,f2,f3,label\n${rows.join('\n')}\n`]), 'data.csv');
  return form;
}

function modelForm(files: { json: Buffer; weights: Buffer }): FormData {
  const form = new FormData();
  form.append('model.json', new Blob([new Uint8Array(files.json)]), 'model.json');
  form.append('weights', new Blob([new Uint8Array(files.weights)]), 'weights.bin');
  return form;
}

/** A multipart POST with these headers (the key of `key`, or exactly `headers`). */
async function postForm(base: string, path: string, form: FormData, key?: string, headers: Record<string, string> = {}): Promise<Response> {
  const sent = key ? bearer(key) : Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ''));
  const response = await fetch(`${base}${path}`, { method: 'POST', body: form, headers: sent });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

function assertSameAnswer(a: Response, b: Response, idA: string, idB: string, where: string): void {
  const norm = (r: Response, id: string) => ({
    status: r.status,
    type: r.headers.get('content-type'),
    length: r.headers.get('content-length'),
    headers: headerNames(r.headers)
      .filter((k) => !['date', 'x-request-id'].includes(k) && !k.startsWith('x-ratelimit'))
      .sort(),
    body: JSON.parse(JSON.stringify(r.body).replaceAll(id, 'ID')),
  });
  assert.deepEqual(norm(a, idA), norm(b, idB), `${where}: answered differently from an id that does not exist`);
}

function headerNames(headers: Headers): string[] {
  const names: string[] = [];
  headers.forEach((_value, name) => names.push(name));
  return names;
}
