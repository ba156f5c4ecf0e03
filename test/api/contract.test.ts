/**
 * openapi.yaml is the contract: every route the server registers is documented and every documented
 * operation exists; real responses of every route (status, headers, content type, body) and real
 * WebSocket messages match the documented schemas; the requests the server accepts or refuses agree with
 * the documented request schemas; the engine's part of the body is the engine's own schema; and every
 * documented status is exercised here unless it needs a broken dependency.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ArtifactParams, EventsQuery, JobCreateBody, JobIdParams, ListQuery } from '../../src/api/schemas/job.js';
import { JOB_STATUSES } from '../../src/jobs/status.js';
import { PHASES } from '../../src/ml/events.js';
import { EngineSpecSchema } from '../../src/ml/spec.js';
import { request, waitFor, type Response } from '../support/http.js';
import { Contract, type HttpMethod, normalizeSchema, type RealResponse, type Schema } from '../support/openapi.js';
import { longerJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const contract = new Contract();

/** Statuses no cheap request can provoke: they need Postgres or Redis to fail under a running API. */
const UNREACHABLE = [
  { status: '500', why: 'an unexpected failure' },
  { status: '503', why: 'Postgres or Redis down (GET /readyz 503 is covered by test/foundation/health.test.ts)' },
];

interface Call {
  body?: unknown;
  headers?: Record<string, string>;
  /** The status the server must answer. */
  status: number;
  /** The problem `code` it must answer with. */
  code?: string;
  /** For a refused request: whether the contract's request schemas refuse it too (false: a check beyond the schema). */
  contractRefuses?: boolean;
}

describe('the API matches openapi.yaml', () => {
  let stack: Stack;
  /** Submitted early so that its training overlaps the cheap checks. */
  let jobA: { id: string };
  const IDEMPOTENCY_KEY = `contract-${Date.now()}`;
  const bodyA = { ...QUICK_JOB, name: 'contract', distillation: { ...QUICK_JOB.distillation, baseline: true }, metadata: { team: 'contract' }, priority: 'high' };

  before(async () => {
    stack = await startStack({ workers: 1 });
  });
  after(() => stack?.stop());

  /** Sends a request, checks the answer against the contract, and the request against the server's verdict. */
  async function call(method: string, url: string, expected: Call): Promise<Response> {
    const response = await request(stack.url, method, url, expected.body, expected.headers);
    assert.equal(response.status, expected.status, `${method} ${url}: ${JSON.stringify(response.body).slice(0, 800)}`);
    if (expected.code) assert.equal(response.body.code, expected.code);
    contract.checkResponse(method, url, response);
    // The body as it went over the wire (JSON drops undefined fields).
    const sent = expected.body === undefined || typeof expected.body === 'string' ? expected.body : JSON.parse(JSON.stringify(expected.body));
    const problems = contract.requestProblems(method, url, { body: sent, headers: expected.headers });
    if (response.status < 400) {
      assert.deepEqual(problems, [], `${method} ${url}: the server accepted a request the contract refuses`);
    } else if (expected.contractRefuses !== undefined) {
      assert.equal(problems.length > 0, expected.contractRefuses, `${method} ${url}: the contract ${expected.contractRefuses ? 'accepts' : 'refuses'} it (${problems.join('; ')})`);
    }
    return response;
  }

  test('every route the server registers is documented, and every documented operation exists', () => {
    const registered = registeredRoutes(stack.server.app.printRoutes({ commonPrefix: false }))
      .filter((r) => r.method !== 'HEAD' && !r.path.startsWith('/docs') && r.path !== '/openapi.yaml')
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    assert.ok(registered.length >= 9, `routes found: ${registered.join(', ')}`);
    const documented = contract.operations().map((o) => `${o.method.toUpperCase()} ${o.path}`);
    assert.deepEqual(registered.filter((r) => !documented.includes(r)), [], 'registered but not documented');
    assert.deepEqual(documented.filter((d) => !registered.includes(d)), [], 'documented but not registered');
    for (const { method, path } of contract.operations()) {
      assert.ok(stack.server.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{([^}]+)\}/g, ':$1') }), `${method} ${path}`);
    }
  });

  test('the documented request schemas are the server\'s own', () => {
    const doc = (name: string) => normalizeSchema(contract.inline(name));
    const own = (schema: unknown) => normalizeSchema(JSON.parse(JSON.stringify(schema)));
    assert.deepEqual(doc('EngineSpec'), own(EngineSpecSchema), 'EngineSpec is src/ml/spec.ts EngineSpecSchema');
    const body = contract.inline('JobCreateRequest');
    for (const field of ['dataset', 'teacher', 'student', 'distillation', 'seed']) {
      assert.deepEqual(normalizeSchema(body.properties[field]), own(EngineSpecSchema.properties[field as 'seed']), `JobCreateRequest.${field}`);
    }
    const ownBody = JSON.parse(JSON.stringify(JobCreateBody)) as Schema;
    for (const field of ['name', 'max_runtime_seconds', 'webhook']) {
      assert.deepEqual(normalizeSchema(body.properties[field]), own(ownBody.properties[field]), `JobCreateRequest.${field}`);
    }
    assert.deepEqual(body.properties.priority.enum, ownBody.properties.priority.enum, 'priorities');
    assert.deepEqual(new Set(Object.keys(body.properties)), new Set(Object.keys(ownBody.properties)), 'the same body fields');
    // The engine's fields are optional to the route's schema and required by the engine's checks.
    assert.deepEqual(new Set(body.required), new Set([...(ownBody.required ?? []), ...EngineSpecSchema.required]), 'the same required fields');
    assert.equal(body.additionalProperties, false);
    assert.deepEqual(contract.doc.components.schemas.JobStatus!.enum, [...JOB_STATUSES]);
    assert.deepEqual(contract.doc.components.schemas.Phase!.enum, [...PHASES]);

    // Query and path parameters, as one object schema per operation, against the routes' schemas.
    const asObject = (method: HttpMethod, path: string, where: 'query' | 'path') => {
      const ps = contract.parameters(method, path).filter((p) => p.in === where);
      const required = ps.filter((p) => p.required).map((p) => p.name);
      return normalizeSchema({
        type: 'object',
        ...(required.length ? { required } : {}),
        properties: Object.fromEntries(ps.map((p) => [p.name, contract.inline(p.schema!)])),
        ...(where === 'query' ? { additionalProperties: false } : {}),
      });
    };
    assert.deepEqual(asObject('get', '/v1/jobs', 'query'), own(ListQuery));
    assert.deepEqual(asObject('get', '/v1/jobs/{id}/events', 'query'), own(EventsQuery));
    for (const path of ['/v1/jobs/{id}', '/v1/jobs/{id}/cancel', '/v1/jobs/{id}/events', '/v1/jobs/{id}/artifacts']) {
      const method = path.endsWith('cancel') ? 'post' : 'get';
      assert.deepEqual(asObject(method, path, 'path'), own(JobIdParams), path);
    }
    assert.deepEqual(asObject('get', '/v1/jobs/{id}/artifacts/{kind}/{file}', 'path'), own(ArtifactParams));
  });

  test('POST /v1/jobs: 201, idempotent replay, 422, 409, and every kind of refusal', async () => {
    const created = await call('POST', '/v1/jobs', { body: bodyA, headers: { 'idempotency-key': IDEMPOTENCY_KEY, 'x-request-id': 'contract-create' }, status: 201 });
    jobA = created.body;
    assert.equal(created.body.status, 'queued');
    assert.equal(created.headers.get('location'), `/v1/jobs/${jobA.id}`);
    assert.equal(created.headers.get('x-request-id'), 'contract-create', 'the request id is echoed');
    assert.equal(created.headers.get('idempotent-replayed'), null);

    const replay = await call('POST', '/v1/jobs', { body: bodyA, headers: { 'idempotency-key': IDEMPOTENCY_KEY }, status: 201 });
    assert.equal(replay.body.id, jobA.id);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    await call('POST', '/v1/jobs', { body: { ...bodyA, seed: 8 }, headers: { 'idempotency-key': IDEMPOTENCY_KEY }, status: 422, code: 'idempotency_key_reused' });
    // The first request still in flight: its key is claimed and holds no job yet.
    const { tenantId } = await stack.db.job.findUniqueOrThrow({ where: { id: jobA.id }, select: { tenantId: true } });
    const where = { tenantId_key: { tenantId, key: IDEMPOTENCY_KEY } };
    await stack.db.idempotencyKey.update({ where, data: { jobId: null } });
    try {
      await call('POST', '/v1/jobs', { body: bodyA, headers: { 'idempotency-key': IDEMPOTENCY_KEY }, status: 409, code: 'idempotency_request_in_flight' });
    } finally {
      await stack.db.idempotencyKey.update({ where, data: { jobId: jobA.id } });
    }
    await call('POST', '/v1/jobs', { body: QUICK_JOB, headers: { 'idempotency-key': 'k'.repeat(256) }, status: 400, code: 'invalid_idempotency_key', contractRefuses: true });

    const refused: Array<{ body: unknown; field: string; contractRefuses: boolean }> = [
      { body: { ...QUICK_JOB, bogus: 1 }, field: '/bogus', contractRefuses: true },
      { body: { ...QUICK_JOB, dataset: undefined }, field: '/dataset', contractRefuses: true },
      { body: [QUICK_JOB], field: '/', contractRefuses: true },
      { body: { ...QUICK_JOB, name: '' }, field: '/name', contractRefuses: true },
      { body: { ...QUICK_JOB, priority: 'urgent' }, field: '/priority', contractRefuses: true },
      { body: { ...QUICK_JOB, max_runtime_seconds: 0 }, field: '/max_runtime_seconds', contractRefuses: true },
      { body: { ...QUICK_JOB, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, field: '/metadata', contractRefuses: true },
      { body: { ...QUICK_JOB, webhook: { url: 'ftp://example.com', secret: '12345678' } }, field: '/webhook/url', contractRefuses: true },
      { body: { ...QUICK_JOB, seed: -1 }, field: '/seed', contractRefuses: true },
      { body: { ...QUICK_JOB, student: { model: { preset: 'nope' } } }, field: '/student/model/preset', contractRefuses: true },
      { body: { ...QUICK_JOB, distillation: { temperature: 0 } }, field: '/distillation/temperature', contractRefuses: true },
      { body: { ...QUICK_JOB, dataset: { source: 'builtin:synthetic', options: { classes: 1 } } }, field: '/dataset/options/classes', contractRefuses: true },
      { body: { ...QUICK_JOB, student: { model: { layers: [{ type: 'dense', units: 4, extra: true }] } } }, field: '/student/model/layers/0', contractRefuses: true },
      // Beyond what a schema can say: the engine's checks and the server's limits.
      { body: { ...QUICK_JOB, student: { model: { layers: [{ type: 'dense', units: 3 }] } } }, field: '/student/model/layers/0/units', contractRefuses: false },
      { body: { ...QUICK_JOB, teacher: { ...QUICK_JOB.teacher, training: { epochs: 999 } } }, field: '/teacher/training/epochs', contractRefuses: false },
      { body: { ...QUICK_JOB, webhook: { url: 'http://169.254.169.254/hook', secret: '12345678' } }, field: '/webhook/url', contractRefuses: false },
    ];
    for (const { body, field, contractRefuses } of refused) {
      const answer = await call('POST', '/v1/jobs', { body, status: 400, code: 'invalid_request', contractRefuses });
      assert.ok(answer.body.errors.some((e: { field: string }) => e.field === field), `${field} named in ${JSON.stringify(answer.body.errors)}`);
    }
    await call('POST', '/v1/jobs', { body: '{"dataset": ', status: 400, code: 'invalid_json' });
    await call('POST', '/v1/jobs', { body: '', status: 400, code: 'invalid_json' });
    await call('POST', '/v1/jobs', { body: '<job/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'unsupported_media_type' });
    await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, name: 'x'.repeat(stack.config.MAX_BODY_BYTES) }, status: 413, code: 'body_too_large' });
  });

  test('GET /v1/jobs and /v1/jobs/{id}: pages, filters, 400 and 404', async () => {
    const one = await call('GET', `/v1/jobs/${jobA.id}`, { status: 200 });
    assert.equal(one.body.id, jobA.id);
    assert.deepEqual(one.body.metadata, bodyA.metadata);
    const page = await call('GET', '/v1/jobs?limit=1', { status: 200 });
    assert.equal(page.body.data.length, 1);
    await call('GET', `/v1/jobs?limit=100&status=queued&after=${jobA.id}`, { status: 200 });
    await call('GET', '/v1/jobs?limit=0', { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs?limit=abc', { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs?status=done', { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs?page=2', { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs/job_00000000000000000000000000', { status: 404, code: 'not_found', contractRefuses: false });
    await call('GET', `/v1/jobs/${'x'.repeat(65)}`, { status: 400, code: 'invalid_request', contractRefuses: true });
  });

  let jobB: { id: string };
  let jobC: { id: string };
  let jobD: { id: string };

  test('POST /v1/jobs/{id}/cancel: a queued job is cancelled at once, a terminal one is unchanged; 400, 404, 413, 415', async () => {
    // With A running on the only worker, the next job stays queued.
    await waitFor('job A to run', async () => (await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`)).body.status !== 'queued', 90_000);
    jobB = (await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, name: 'to cancel' }, status: 201 })).body;
    // Queued behind A: C fails in the engine (a dataset that does not exist), D is cancelled while it runs.
    jobC = (await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, name: 'fails', dataset: { source: 'ds_00000000000000000000000000' } }, status: 201 })).body;
    jobD = (await call('POST', '/v1/jobs', { body: { ...longerJob(), name: 'cancelled while running', max_runtime_seconds: 600, priority: 'low' }, status: 201 })).body;

    const cancelled = await call('POST', `/v1/jobs/${jobB.id}/cancel`, { status: 200 });
    assert.equal(cancelled.body.status, 'cancelled');
    assert.ok(cancelled.body.finished_at);
    const again = await call('POST', `/v1/jobs/${jobB.id}/cancel`, { body: {}, status: 200 });
    assert.equal(again.body.status, 'cancelled');
    assert.equal(again.body.updated_at, cancelled.body.updated_at, 'a terminal job is unchanged');

    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', { status: 404, code: 'not_found' });
    await call('POST', `/v1/jobs/${'x'.repeat(65)}/cancel`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', { body: '', status: 400, code: 'invalid_json' });
    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', { body: 'now', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' });
    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', { body: { pad: 'x'.repeat(stack.config.MAX_BODY_BYTES) }, status: 413, code: 'body_too_large' });
  });

  test('GET /v1/jobs/{id}/events over REST, and over the per-job WebSocket until it closes with 1000', async () => {
    const socket = await openSocket(`${stack.wsUrl}/v1/jobs/${jobA.id}/events?after=0`);
    contract.seen.add('GET /v1/jobs/{id}/events 101');
    const closed = await socket.closed;
    assert.equal(closed.code, 1000, closed.reason);
    assert.ok(documentedCloseCodes('/v1/jobs/{id}/events').includes(String(closed.code)));
    for (const message of socket.messages) contract.assertValid('EventObject', message, `event ${JSON.stringify(message).slice(0, 80)}`);
    const events = socket.messages as Array<{ seq: number; type: string; data: Record<string, unknown> }>;
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    for (const type of ['status', 'phase', 'metrics', 'epoch', 'checkpoint', 'log']) assert.ok(events.some((e) => e.type === type), `a ${type} event was seen`);
    assert.deepEqual(events.at(-1)!.data, { status: 'succeeded', attempt: 1 });

    const all = await call('GET', `/v1/jobs/${jobA.id}/events?after=0&limit=1000`, { status: 200 });
    assert.deepEqual(all.body.data, events, 'REST lists exactly what the socket sent');
    assert.equal(all.body.has_more, false);
    const page = await call('GET', `/v1/jobs/${jobA.id}/events?after=2&limit=3`, { status: 200 });
    assert.deepEqual(page.body.data.map((e: { seq: number }) => e.seq), [3, 4, 5]);
    assert.equal(page.body.has_more, true);
    await call('GET', `/v1/jobs/${jobA.id}/events?after=-1`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/jobs/${jobA.id}/events?limit=1001`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/jobs/${jobA.id}/events?since=1`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs/job_00000000000000000000000000/events', { status: 404, code: 'not_found' });

    const unknown = await openSocket(`${stack.wsUrl}/v1/jobs/job_00000000000000000000000000/events`);
    const gone = await unknown.closed;
    assert.equal(gone.code, 4404);
    assert.ok(documentedCloseCodes('/v1/jobs/{id}/events').includes('4404'));
    // A query that fails validation refuses the upgrade with the documented 400.
    const url = `/v1/jobs/${jobA.id}/events?after=-1`;
    const refused = await refusedUpgrade(`${stack.wsUrl}${url}`);
    assert.equal(refused.status, 400);
    contract.checkResponse('GET', url, refused);
  });

  test('artifacts: list, download of every file (tfjs model files and the report), 400 and 404', async () => {
    const list = await call('GET', `/v1/jobs/${jobA.id}/artifacts`, { status: 200 });
    const files = list.body.data as Array<{ kind: string; file: string; bytes: number; sha256: string; url: string }>;
    assert.deepEqual(
      files.map((a) => `${a.kind}/${a.file}`),
      ['baseline/model.json', 'baseline/weights.bin', 'report/report.json', 'student/model.json', 'student/weights.bin', 'teacher/model.json', 'teacher/weights.bin'],
    );
    for (const artifact of files) {
      assert.equal(artifact.url, `/v1/jobs/${jobA.id}/artifacts/${artifact.kind}/${artifact.file}`);
      const raw = await fetch(`${stack.url}${artifact.url}`);
      const bytes = Buffer.from(await raw.arrayBuffer());
      const type = raw.headers.get('content-type') ?? '';
      const body = type.includes('json') ? JSON.parse(bytes.toString('utf8')) : bytes;
      contract.checkResponse('GET', artifact.url, { status: raw.status, headers: raw.headers, body });
      assert.equal(raw.status, 200);
      assert.equal(bytes.length, artifact.bytes);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), artifact.sha256);
      assert.equal(raw.headers.get('etag'), `"${artifact.sha256}"`);
      if (artifact.file === 'report.json') contract.assertValid('Report', body, 'report.json');
      if (artifact.file === 'model.json') contract.assertValid('TfjsModelJson', body, `${artifact.kind}/model.json`);
      if (artifact.file === 'weights.bin') assert.match(type, /^application\/octet-stream/);
    }
    const job = await call('GET', `/v1/jobs/${jobA.id}`, { status: 200 });
    assert.equal(job.body.status, 'succeeded');
    assert.ok(job.body.result.baseline, 'the report has the baseline');

    const empty = await call('GET', `/v1/jobs/${jobB.id}/artifacts`, { status: 200 });
    assert.deepEqual(empty.body.data, []);
    await call('GET', `/v1/jobs/${jobB.id}/artifacts/student/model.json`, { status: 404, code: 'not_found' });
    await call('GET', `/v1/jobs/${jobA.id}/artifacts/report/model.json`, { status: 404, code: 'not_found' });
    await call('GET', `/v1/jobs/${jobA.id}/artifacts/ensemble/model.json`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/jobs/${jobA.id}/artifacts/student/model.h5`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs/job_00000000000000000000000000/artifacts', { status: 404, code: 'not_found' });
    await call('GET', `/v1/jobs/${'x'.repeat(65)}/artifacts`, { status: 400, code: 'invalid_request', contractRefuses: true });
  });

  test('GET /v1/events: the multi-job WebSocket\'s replies and events; a failed job and a job cancelled while running', async () => {
    const socket = await openSocket(`${stack.wsUrl}/v1/events`);
    contract.seen.add('GET /v1/events 101');
    const send = (message: unknown, schema?: string) => {
      if (schema) contract.assertValid(schema, message, 'a client message');
      socket.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    };
    const reply = (match: (m: any) => boolean) => socket.waitFor(match);

    send('not json');
    assert.equal((await reply((m) => m.type === 'error' && m.code === 'invalid_json')).job_id, undefined);
    send({ type: 'follow', job_id: jobA.id });
    await reply((m) => m.type === 'error' && m.code === 'invalid_message' && m.job_id === undefined);
    const badAfter = { type: 'subscribe', job_id: jobA.id, after: -1 };
    assert.ok(contract.errors('SubscribeMessage', badAfter).length > 0, 'the contract refuses a negative after too');
    send(badAfter);
    await reply((m) => m.type === 'error' && m.code === 'invalid_message' && m.job_id === jobA.id);
    send({ type: 'subscribe', job_id: 'job_00000000000000000000000000' }, 'SubscribeMessage');
    await reply((m) => m.type === 'error' && m.code === 'not_found');

    // A finished job: every stored event after `after`, then nothing more.
    const total = (await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`)).body.last_event_seq as number;
    send({ type: 'subscribe', job_id: jobA.id, after: 3 }, 'SubscribeMessage');
    assert.equal((await reply((m) => m.type === 'subscribed' && m.job_id === jobA.id)).after, 3);
    await reply((m) => m.object === 'event' && m.job_id === jobA.id && m.seq === total);
    const ofA = socket.messages.filter((m: any) => m.object === 'event' && m.job_id === jobA.id).map((m: any) => m.seq);
    assert.deepEqual(ofA, Array.from({ length: total - 3 }, (_, i) => i + 4));
    send({ type: 'unsubscribe', job_id: jobA.id }, 'UnsubscribeMessage');
    await reply((m) => m.type === 'unsubscribed' && m.job_id === jobA.id);

    // C fails in the engine; D is followed live and cancelled once it runs.
    send({ type: 'subscribe', job_id: jobC.id }, 'SubscribeMessage');
    send({ type: 'subscribe', job_id: jobD.id, after: 0 }, 'SubscribeMessage');
    const cFailed = await reply((m) => m.job_id === jobC.id && m.type === 'status' && m.data.status === 'failed');
    assert.equal(cFailed.data.error.code, 'unknown_source');
    const failed = await call('GET', `/v1/jobs/${jobC.id}`, { status: 200 });
    assert.equal(failed.body.status, 'failed');
    assert.equal(failed.body.error.code, 'unknown_source');
    assert.equal(failed.body.result, null);

    await reply((m) => m.job_id === jobD.id && m.type === 'status' && m.data.status === 'running');
    const cancelling = await call('POST', `/v1/jobs/${jobD.id}/cancel`, { status: 200 });
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.body.status), cancelling.body.status);
    await reply((m) => m.job_id === jobD.id && m.type === 'status' && m.data.status === 'cancelled');
    const cancelled = await call('GET', `/v1/jobs/${jobD.id}`, { status: 200 });
    assert.equal(cancelled.body.status, 'cancelled');
    send({ type: 'unsubscribe', job_id: jobD.id }, 'UnsubscribeMessage');
    await reply((m) => m.type === 'unsubscribed' && m.job_id === jobD.id);

    for (const message of socket.messages) contract.assertValid('EventsSocketServerMessage', message, `a /v1/events message ${JSON.stringify(message).slice(0, 100)}`);
    const seen = new Set(socket.messages.map((m: any) => m.type === 'error' ? `error:${m.code}` : m.object === 'event' ? 'event' : m.type));
    for (const kind of ['event', 'subscribed', 'unsubscribed', 'error:invalid_json', 'error:invalid_message', 'error:not_found']) assert.ok(seen.has(kind), `${kind} seen`);
    socket.socket.close(1000);
    await socket.closed;
  });

  test('health, unknown routes (route_not_found) and a plain GET on the socket-only route', async () => {
    await call('GET', '/healthz', { status: 200 });
    await call('GET', '/readyz', { status: 200 });
    for (const [method, url] of [['GET', '/v1/nothing'], ['DELETE', `/v1/jobs/${jobA.id}`], ['PUT', '/v1/jobs']] as const) {
      const answer = await request(stack.url, method, url, method === 'PUT' ? {} : undefined);
      assert.equal(answer.status, 404);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
      contract.assertValid('Problem', answer.body, `${method} ${url}`);
      assert.equal(answer.body.code, 'route_not_found');
      assert.ok(answer.headers.get('x-request-id'));
    }
    await call('GET', '/v1/events', { status: 404 });
  });

  test('every documented status of every operation was exercised (but those that need a broken dependency)', () => {
    const missing: string[] = [];
    for (const { method, path, operation } of contract.operations()) {
      for (const status of Object.keys(operation.responses)) {
        const key = `${method.toUpperCase()} ${path} ${status}`;
        if (contract.seen.has(key)) continue;
        if (UNREACHABLE.some((u) => u.status === status)) continue;
        if (key === 'GET /readyz 503') continue; // test/foundation/health.test.ts stops Redis for it
        missing.push(key);
      }
    }
    assert.deepEqual(missing, []);
  });

  test('metadata keys are 1 to 64 characters, as documented', { todo: 'src/api/schemas/job.ts: TypeBox turns the Record key schema into patternProperties "^.*$", so key lengths are not checked' }, async () => {
    const answer = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, metadata: { ['k'.repeat(65)]: 'v' } });
    if (answer.status === 201) await request(stack.url, 'POST', `/v1/jobs/${answer.body.id}/cancel`);
    assert.equal(answer.status, 400);
  });

  test('a socket opened after the terminal event (after = its seq) closes with 1000', { todo: 'src/api/live/job-follower.ts closes only when it delivers the terminal event: with nothing left to deliver the socket stays open' }, async () => {
    const { last_event_seq: last } = (await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`)).body;
    const late = await openSocket(`${stack.wsUrl}/v1/jobs/${jobA.id}/events?after=${last}`);
    const closed = await Promise.race([late.closed, new Promise<undefined>((r) => setTimeout(r, 8000))]);
    if (!closed) late.socket.terminate();
    assert.equal(closed?.code, 1000, 'closed with 1000 within 8 s');
    assert.deepEqual(late.messages, []);
  });

  test('an unsubscribe sent right after a subscribe leaves the job unfollowed', { todo: 'src/api/routes/events.ts: subscribe awaits the job lookup, so an unsubscribe that arrives meanwhile is answered first and the subscription is made after it' }, async () => {
    const socket = await openSocket(`${stack.wsUrl}/v1/events`);
    try {
      socket.socket.send(JSON.stringify({ type: 'subscribe', job_id: jobA.id }));
      socket.socket.send(JSON.stringify({ type: 'unsubscribe', job_id: jobA.id }));
      await socket.waitFor((m) => m.type === 'unsubscribed');
      await new Promise((r) => setTimeout(r, 1000));
      const last = socket.messages.filter((m: any) => m.type === 'subscribed' || m.type === 'unsubscribed').at(-1) as { type: string };
      assert.equal(last.type, 'unsubscribed', 'the last reply says the job is not followed');
      const afterUnsubscribe = socket.messages.slice(socket.messages.findIndex((m: any) => m.type === 'unsubscribed'));
      assert.equal(afterUnsubscribe.filter((m: any) => m.object === 'event').length, 0, 'no events after the unsubscribe');
    } finally {
      socket.socket.close();
    }
  });
});

/** `METHOD /path/:param` of every route in Fastify's printRoutes tree (commonPrefix: false). */
function registeredRoutes(tree: string): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const found = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!found) continue;
    const depth = found[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + found[2]!;
    stack[depth] = path;
    for (const method of found[3]?.split(',').map((m) => m.trim()) ?? []) routes.push({ method, path });
  }
  return routes;
}

function documentedCloseCodes(path: string): string[] {
  return Object.keys(contract.operation('get', path)['x-websocket']?.closeCodes ?? {});
}

interface OpenSocket {
  socket: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  waitFor(match: (message: any) => boolean, timeoutMs?: number): Promise<any>;
}

function openSocket(url: string): Promise<OpenSocket> {
  const socket = new WebSocket(url);
  const messages: any[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (data, isBinary) => {
    assert.equal(isBinary, false, 'messages are text frames');
    messages.push(JSON.parse(String(data)));
    listeners.forEach((l) => l());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        socket,
        messages,
        closed,
        waitFor(match, timeoutMs = 90_000) {
          return new Promise((res, rej) => {
            let index = 0;
            const check = () => {
              for (; index < messages.length; index++) {
                if (match(messages[index])) {
                  listeners.delete(check);
                  clearTimeout(timer);
                  return res(messages[index]);
                }
              }
            };
            const timer = setTimeout(() => {
              listeners.delete(check);
              rej(new Error(`message not seen within ${timeoutMs} ms; last: ${JSON.stringify(messages.slice(-3))}`));
            }, timeoutMs);
            listeners.add(check);
            check();
          });
        },
      }),
    );
  });
}

/** The HTTP answer of an upgrade the server refuses, as a response to check. */
function refusedUpgrade(url: string): Promise<RealResponse> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on('open', () => reject(new Error('the upgrade was accepted')));
    socket.on('error', () => {});
    socket.on('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers, body: (headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text });
        socket.terminate();
      });
    });
  });
}
