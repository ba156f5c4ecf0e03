/**
 * openapi.yaml is the contract: every route the server registers is documented and every documented
 * operation exists; real responses of every route (status, headers, content type, body) and real
 * WebSocket messages match the documented schemas; the requests the server accepts or refuses agree with
 * the documented request schemas; the engine's part of the body is the engine's own schema; auth (the
 * API key and the WebSocket ticket), rate limits and quotas answer as documented on every operation; and
 * every documented status is exercised here unless it needs a broken dependency.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ArtifactParams, EventsQuery, JobCreateBody, JobIdParams, ListQuery } from '../../src/api/schemas/job.js';
import { toJobObject } from '../../src/jobs/job-object.js';
import { JOB_STATUSES } from '../../src/jobs/status.js';
import { PHASES } from '../../src/ml/events.js';
import { EngineSpecSchema } from '../../src/ml/spec.js';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/api/server.js';
import type { Config } from '../../src/config.js';
import { request, type Response } from '../support/http.js';
import { Contract, type HttpMethod, normalizeSchema, type Schema } from '../support/openapi.js';
import { cancellableJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { tinyModel } from '../support/tiny-model.js';
import { linearClassifier } from '../support/onnx-builder.js';
import { refusedUpgrade } from '../support/ws.js';
import { registeredRoutes } from '../support/routes.js';

const contract = new Contract();

/** Statuses no cheap request can provoke: they need Postgres or Redis to fail under a running API. */
const UNREACHABLE = [
  { status: '500', why: 'an unexpected failure' },
  { status: '503', why: 'Postgres or Redis down, or the API overloaded (GET /readyz 503 is covered by test/foundation/health.test.ts)' },
];
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const NO_KEY = { authorization: '' };

interface Call {
  body?: unknown;
  /** A multipart body instead (uploads); the contract's request check skips it. */
  form?: FormData;
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
  const bodyA = {
    ...QUICK_JOB,
    name: 'contract',
    distillation: { ...QUICK_JOB.distillation, baseline: true },
    metadata: { team: 'contract' },
    priority: 'high',
  };

  before(async () => {
    // No worker until the cancel test: jobs stay queued, so cancelling and "in use" are deterministic.
    // Uploads are capped at 64 KiB (cheap 413s); no overload shedding on a loaded test machine.
    stack = await startStack({ workers: 0, env: { MAX_UPLOAD_BYTES: '65536' } });
    defaultKey = stack.keys.a.key;
  });
  after(() => stack?.stop());

  /** Sends a request, checks the answer against the contract, and the request against the server's verdict. */
  async function call(method: string, url: string, expected: Call, base = stack.url): Promise<Response> {
    // Another API process has no default key: tenant a's unless the call says otherwise.
    const headers = base === stack.url || 'authorization' in (expected.headers ?? {}) ? expected.headers : { ...expected.headers, ...bearer(stack.keys.a.key) };
    const response = expected.form ? await postForm(base, url, expected.form, headers) : await request(base, method, url, expected.body, headers);
    assert.equal(response.status, expected.status, `${method} ${url}: ${JSON.stringify(response.body).slice(0, 800)}`);
    if (expected.code) assert.equal(response.body.code, expected.code);
    contract.checkResponse(method, url, response);
    // The body as it went over the wire (JSON drops undefined fields).
    if (expected.form) return response;
    const sent = expected.body === undefined || typeof expected.body === 'string' ? expected.body : JSON.parse(JSON.stringify(expected.body));
    const problems = contract.requestProblems(method, url, { body: sent, headers: expected.headers });
    if (response.status < 400) {
      assert.deepEqual(problems, [], `${method} ${url}: the server accepted a request the contract refuses`);
    } else if (expected.contractRefuses !== undefined) {
      assert.equal(
        problems.length > 0,
        expected.contractRefuses,
        `${method} ${url}: the contract ${expected.contractRefuses ? 'accepts' : 'refuses'} it (${problems.join('; ')})`,
      );
    }
    return response;
  }

  test('every route the server registers is documented, and every documented operation exists', () => {
    const registered = registeredRoutes(stack.server.app.printRoutes({ commonPrefix: false }))
      // Not the API: the docs UI and this file, and the dashboard's page and static files (a wildcard).
      .filter((r) => r.method !== 'HEAD' && !r.path.startsWith('/docs') && !['/openapi.yaml', '/', '/*'].includes(r.path) && !r.path.startsWith('/assets/'))
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    assert.ok(registered.length >= 9, `routes found: ${registered.join(', ')}`);
    const documented = contract.operations().map((o) => `${o.method.toUpperCase()} ${o.path}`);
    assert.deepEqual(
      registered.filter((r) => !documented.includes(r)),
      [],
      'registered but not documented',
    );
    assert.deepEqual(
      documented.filter((d) => !registered.includes(d)),
      [],
      'documented but not registered',
    );
    for (const { method, path } of contract.operations()) {
      assert.ok(stack.server.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{([^}]+)\}/g, ':$1') }), `${method} ${path}`);
    }
  });

  test("the documented request schemas are the server's own", () => {
    const doc = (name: string) => normalizeSchema(contract.inline(name));
    const own = (schema: unknown) => normalizeSchema(JSON.parse(JSON.stringify(schema)));
    assert.deepEqual(doc('EngineSpec'), own(EngineSpecSchema), 'EngineSpec is src/ml/spec.ts EngineSpecSchema');
    const body = contract.inline('JobCreateRequest');
    for (const field of ['dataset', 'teacher', 'student', 'distillation', 'export', 'seed']) {
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
    const created = await call('POST', '/v1/jobs', {
      body: bodyA,
      headers: { 'idempotency-key': IDEMPOTENCY_KEY, 'x-request-id': 'contract-create' },
      status: 201,
    });
    jobA = created.body;
    assert.equal(created.body.status, 'queued');
    assert.equal(created.headers.get('location'), `/v1/jobs/${jobA.id}`);
    assert.equal(created.headers.get('x-request-id'), 'contract-create', 'the request id is echoed');
    assert.equal(created.headers.get('idempotent-replayed'), null);

    const replay = await call('POST', '/v1/jobs', { body: bodyA, headers: { 'idempotency-key': IDEMPOTENCY_KEY }, status: 201 });
    assert.equal(replay.body.id, jobA.id);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.headers.get('location'), `/v1/jobs/${jobA.id}`, 'a replay says where the job is too');
    await call('POST', '/v1/jobs', {
      body: { ...bodyA, seed: 8 },
      headers: { 'idempotency-key': IDEMPOTENCY_KEY },
      status: 422,
      code: 'idempotency_key_reused',
    });
    // The first request still in flight: its key is claimed and holds no job yet.
    const { tenantId } = await stack.db.job.findUniqueOrThrow({ where: { id: jobA.id }, select: { tenantId: true } });
    const where = { tenantId_key: { tenantId, key: IDEMPOTENCY_KEY } };
    await stack.db.idempotencyKey.update({ where, data: { jobId: null } });
    try {
      await call('POST', '/v1/jobs', { body: bodyA, headers: { 'idempotency-key': IDEMPOTENCY_KEY }, status: 409, code: 'idempotency_request_in_flight' });
    } finally {
      await stack.db.idempotencyKey.update({ where, data: { jobId: jobA.id } });
    }
    await call('POST', '/v1/jobs', {
      body: QUICK_JOB,
      headers: { 'idempotency-key': 'k'.repeat(256) },
      status: 400,
      code: 'invalid_idempotency_key',
      contractRefuses: true,
    });

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
      {
        body: { ...QUICK_JOB, student: { model: { layers: [{ type: 'dense', units: 4, extra: true }] } } },
        field: '/student/model/layers/0',
        contractRefuses: true,
      },
      // Beyond what a schema can say: the engine's checks and the server's limits.
      { body: { ...QUICK_JOB, student: { model: { layers: [{ type: 'dense', units: 3 }] } } }, field: '/student/model/layers/0/units', contractRefuses: false },
      { body: { ...QUICK_JOB, teacher: { ...QUICK_JOB.teacher, training: { epochs: 999 } } }, field: '/teacher/training/epochs', contractRefuses: false },
      { body: { ...QUICK_JOB, webhook: { url: 'http://169.254.169.254/hook', secret: '12345678' } }, field: '/webhook/url', contractRefuses: false },
      { body: { ...QUICK_JOB, dataset: { source: 'ds_00000000000000000000000000' } }, field: '/dataset/source', contractRefuses: false },
      { body: { ...QUICK_JOB, teacher: { model_id: 'mdl_00000000000000000000000000' } }, field: '/teacher/model_id', contractRefuses: false },
      // What Postgres cannot store: NUL, and unpaired UTF-16 surrogates (which JSON can escape).
      { body: { ...QUICK_JOB, name: 'a\u0000b' }, field: '/name', contractRefuses: false },
      { body: { ...QUICK_JOB, name: 'a\ud800b' }, field: '/name', contractRefuses: false },
      { body: { ...QUICK_JOB, metadata: { k: 'a\udfffb' } }, field: '/metadata/k', contractRefuses: false },
      { body: { ...QUICK_JOB, metadata: { 'k\udc00': 'v' } }, field: '/metadata/k\udc00', contractRefuses: false },
      // The server's limits on job size (MAX_SAMPLE_EPOCHS 20,000,000 and MAX_MODEL_MACS 50,000,000 by default).
      {
        body: {
          ...QUICK_JOB,
          dataset: { source: 'builtin:synthetic', options: { samples: 1_000_000, classes: 4, features: 16 } },
          student: { ...QUICK_JOB.student, training: { epochs: 30 } },
        },
        field: '/dataset',
        contractRefuses: false,
      },
      {
        body: {
          ...QUICK_JOB,
          dataset: { source: 'builtin:synthetic', options: { samples: 800, classes: 4, features: 1000 } },
          student: {
            model: {
              layers: [
                { type: 'dense', units: 60_000 },
                { type: 'dense', units: 4 },
              ],
            },
          },
        },
        field: '/student/model',
        contractRefuses: false,
      },
    ];
    for (const { body, field, contractRefuses } of refused) {
      const answer = await call('POST', '/v1/jobs', { body, status: 400, code: 'invalid_request', contractRefuses });
      assert.ok(
        answer.body.errors.some((e: { field: string }) => e.field === field),
        `${field} named in ${JSON.stringify(answer.body.errors)}`,
      );
    }
    await call('POST', '/v1/jobs', { body: '{"dataset": ', status: 400, code: 'invalid_json' });
    await call('POST', '/v1/jobs', { body: '', status: 400, code: 'invalid_json' });
    await call('POST', '/v1/jobs', { body: '<job/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'unsupported_media_type' });
    await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, name: 'x'.repeat(stack.config.MAX_BODY_BYTES) }, status: 413, code: 'body_too_large' });
    // Metadata keys are 1 to 64 characters, as documented.
    await call('POST', '/v1/jobs', {
      body: { ...QUICK_JOB, metadata: { ['k'.repeat(65)]: 'v' } },
      status: 400,
      code: 'invalid_request',
      contractRefuses: true,
    });
    await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, metadata: { '': 'v' } }, status: 400, code: 'invalid_request', contractRefuses: true });
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

  let dataset: { id: string };
  let model: { id: string };

  test('datasets: upload (201, the same files again 200), list, read, delete; 400, 403, 404, 409, 413, 415', async () => {
    const created = await call('POST', '/v1/datasets', { form: datasetForm(1), status: 201 });
    dataset = created.body;
    assert.equal(created.headers.get('location'), `/v1/datasets/${dataset.id}`);
    assert.equal(created.body.status, 'ready');
    const again = await call('POST', '/v1/datasets', { form: datasetForm(1), status: 200 });
    assert.equal(again.body.id, dataset.id, 'the same files are the same dataset');
    const form = new FormData();
    form.append('name', 'nothing');
    await call('POST', '/v1/datasets', { form, status: 400, code: 'invalid_upload' });
    const ragged = new FormData();
    ragged.append('csv', new Blob(['f0,f1,label\n1,2,a\n3,b\n4,5,b\n']), 'ragged.csv');
    const refused = await call('POST', '/v1/datasets', { form: ragged, status: 400, code: 'invalid_dataset' });
    assert.equal(refused.body.reason, 'csv_ragged_row', 'reason names the fault');
    const huge = new FormData();
    huge.append('csv', new Blob(['f0,label\n', '1,a\n'.repeat(20_000)]), 'big.csv');
    await call('POST', '/v1/datasets', { form: huge, status: 413, code: 'upload_too_large' });
    await call('POST', '/v1/datasets', { body: { csv: 'a,b' }, status: 415, code: 'unsupported_media_type' });
    await call('POST', '/v1/datasets', { body: '{"csv":', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' });

    const list = await call('GET', '/v1/datasets?limit=100', { status: 200 });
    assert.deepEqual(
      list.body.data.map((d: { id: string }) => d.id),
      ['builtin:mnist', 'builtin:synthetic', dataset.id],
    );
    await call('GET', '/v1/datasets?limit=2&after=builtin:mnist', { status: 200 });
    await call('GET', '/v1/datasets?limit=0', { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/datasets?page=2', { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/datasets/${dataset.id}`, { status: 200 });
    await call('GET', '/v1/datasets/builtin:mnist', { status: 200 });
    await call('GET', '/v1/datasets/ds_00000000000000000000000000', { status: 404, code: 'not_found' });
    await call('GET', `/v1/datasets/${'x'.repeat(65)}`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/datasets/${dataset.id}`, { status: 404, code: 'not_found', headers: bearer(stack.keys.b.key) });
    await call('DELETE', `/v1/datasets/${dataset.id}`, { status: 403, code: 'admin_read_only', headers: bearer(stack.keys.admin.key) });

    // In use by a queued job: 409 naming it; free once the job is cancelled.
    const job = (await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, name: 'on the upload', dataset: { source: dataset.id } }, status: 201 })).body;
    const inUse = await call('DELETE', `/v1/datasets/${dataset.id}`, { status: 409, code: 'dataset_in_use' });
    assert.deepEqual(inUse.body.jobs, [job.id]);
    await call('POST', `/v1/jobs/${job.id}/cancel`, { status: 200 });
    await call('DELETE', '/v1/datasets/builtin:synthetic', { status: 403, code: 'builtin_dataset' });
    await call('DELETE', '/v1/datasets/ds_00000000000000000000000000', { status: 404, code: 'not_found' });
    await call('DELETE', `/v1/datasets/${'x'.repeat(65)}`, { status: 400, code: 'invalid_request', contractRefuses: true });
    const deleted = await call('DELETE', `/v1/datasets/${dataset.id}`, { status: 200 });
    assert.deepEqual(deleted.body, { id: dataset.id, object: 'dataset', deleted: true });
    // Kept for the quota checks below.
    dataset = (await call('POST', '/v1/datasets', { form: datasetForm(3), status: 201 })).body;
  });

  test('models: upload (201), list, read, download both files, delete; 400, 404, 409, 413, 415', async () => {
    const files = await tinyModel();
    const created = await call('POST', '/v1/models', { form: modelForm(files), status: 201 });
    model = created.body;
    assert.equal(created.headers.get('location'), `/v1/models/${model.id}`);
    assert.equal(created.body.source, 'uploaded');
    const missing = await call('POST', '/v1/models', { form: modelForm(files, ['weights']), status: 400, code: 'invalid_model' });
    assert.equal(missing.body.reason, 'missing_model_json');
    const huge = modelForm(files);
    huge.append('extra', new Blob([new Uint8Array(70_000)]), 'extra.bin');
    await call('POST', '/v1/models', { form: huge, status: 413, code: 'upload_too_large' });
    await call('POST', '/v1/models', { body: { model: {} }, status: 415, code: 'unsupported_media_type' });
    await call('POST', '/v1/models', { body: '[', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' });

    const list = await call('GET', '/v1/models?source=uploaded&limit=10', { status: 200 });
    assert.deepEqual(
      list.body.data.map((m: { id: string }) => m.id),
      [model.id],
    );
    await call('GET', `/v1/models?source_job=${jobA.id}`, { status: 200 });
    await call('GET', '/v1/models?source=trained', { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/models/${model.id}`, { status: 200 });
    await call('GET', '/v1/models/mdl_00000000000000000000000000', { status: 404, code: 'not_found' });
    await call('GET', `/v1/models/${'x'.repeat(65)}`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/models/${model.id}`, { status: 404, code: 'not_found', headers: bearer(stack.keys.b.key) });
    await call('DELETE', `/v1/models/${model.id}`, { status: 403, code: 'admin_read_only', headers: bearer(stack.keys.admin.key) });
    for (const file of ['model.json', 'weights.bin']) {
      const raw = await fetch(`${stack.url}/v1/models/${model.id}/${file}`, { headers: bearer(stack.keys.a.key) });
      const bytes = Buffer.from(await raw.arrayBuffer());
      const body = (raw.headers.get('content-type') ?? '').includes('json') ? JSON.parse(bytes.toString('utf8')) : bytes;
      assert.equal(raw.status, 200);
      contract.checkResponse('GET', `/v1/models/${model.id}/${file}`, { status: raw.status, headers: raw.headers, body });
      if (file === 'weights.bin') assert.deepEqual(bytes, files.weights);
    }
    await call('GET', '/v1/models/mdl_00000000000000000000000000/model.json', { status: 404, code: 'not_found' });
    await call('GET', `/v1/models/${model.id}/model.h5`, { status: 400, code: 'invalid_request', contractRefuses: true });

    // The teacher of a queued job: 409 naming it; free once the job is cancelled.
    const job = (
      await call('POST', '/v1/jobs', {
        body: {
          ...QUICK_JOB,
          name: 'taught by the upload',
          dataset: { source: 'builtin:synthetic', options: { samples: 200, classes: 2, features: 4 } },
          teacher: { model_id: model.id },
        },
        status: 201,
      })
    ).body;
    const inUse = await call('DELETE', `/v1/models/${model.id}`, { status: 409, code: 'model_in_use' });
    assert.deepEqual(inUse.body.jobs, [job.id]);
    await call('POST', `/v1/jobs/${job.id}/cancel`, { status: 200 });
    await call('DELETE', '/v1/models/mdl_00000000000000000000000000', { status: 404, code: 'not_found' });
    await call('DELETE', `/v1/models/${'x'.repeat(65)}`, { status: 400, code: 'invalid_request', contractRefuses: true });
    const deleted = await call('DELETE', `/v1/models/${model.id}`, { status: 200 });
    assert.deepEqual(deleted.body, { id: model.id, object: 'model', deleted: true });
    model = (await call('POST', '/v1/models', { form: modelForm(files), status: 201 })).body;
  });

  test('models: an ONNX upload (201, format onnx), its model.onnx download; 400 naming the problem', async () => {
    const onnx = linearClassifier(4, 3);
    const form = (bytes: Uint8Array, fields: Record<string, string>) => {
      const f = new FormData();
      for (const [name, value] of Object.entries(fields)) f.append(name, value);
      f.append('model.onnx', new Blob([new Uint8Array(bytes)]), 'classifier.onnx');
      return f;
    };
    const created = await call('POST', '/v1/models', {
      form: form(onnx, { name: 'onnx', layout: 'nhwc', scale: '255', mean: '0.5', std: '0.25', output: 'probabilities' }),
      status: 201,
    });
    assert.equal(created.body.format, 'onnx');
    assert.deepEqual(created.body.onnx, {
      layout: 'nhwc',
      scale: 255,
      mean: [0.5],
      std: [0.25],
      output: 'probabilities',
      input_name: 'x',
      output_name: 'scores',
      model_input_shape: [4],
      opset: 13,
    });
    await call('GET', `/v1/models/${created.body.id}`, { status: 200 });
    const raw = await fetch(`${stack.url}/v1/models/${created.body.id}/model.onnx`, { headers: bearer(stack.keys.a.key) });
    const bytes = Buffer.from(await raw.arrayBuffer());
    contract.checkResponse('GET', `/v1/models/${created.body.id}/model.onnx`, { status: raw.status, headers: raw.headers, body: bytes });
    assert.deepEqual(bytes, Buffer.from(onnx));
    const opset = await call('POST', '/v1/models', { form: form(linearClassifier(4, 3, { opset: 99 }), {}), status: 400, code: 'invalid_model' });
    assert.equal(opset.body.reason, 'unsupported_opset');
    const layout = await call('POST', '/v1/models', { form: form(onnx, { layout: 'sideways' }), status: 400, code: 'invalid_upload' });
    assert.equal(layout.body.reason, 'invalid_layout');
    await call('DELETE', `/v1/models/${created.body.id}`, { status: 200 });
  });

  test('POST /v1/ws-tickets: 201 with a ticket; 400, 413, 415', async () => {
    const issued = await call('POST', '/v1/ws-tickets', { status: 201 });
    assert.match(issued.body.ticket, /^wst_/);
    await call('POST', '/v1/ws-tickets', { body: {}, status: 201 });
    await call('POST', '/v1/ws-tickets', { body: '{', headers: { 'content-type': 'application/json' }, status: 400, code: 'invalid_json' });
    await call('POST', '/v1/ws-tickets', { body: { pad: 'x'.repeat(2000) }, status: 413, code: 'body_too_large' });
    await call('POST', '/v1/ws-tickets', { body: 'ticket please', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' });
  });

  /** One request per documented /v1 operation, on tenant a's resources, valid in every other respect. */
  const everyOperation = (): Array<{ method: string; url: string; body?: unknown; form?: () => FormData }> => {
    const files = { json: '{}', weights: Buffer.alloc(0) };
    return contract
      .operations()
      .filter(({ path }) => path.startsWith('/v1/'))
      .map(({ method, path }) => {
        const url = path
          .replace('/v1/datasets/{id}', `/v1/datasets/${dataset.id}`)
          .replace('/v1/models/{id}', `/v1/models/${model.id}`)
          .replace('{id}', jobA.id)
          .replace('{kind}/{file}', 'report/report.json')
          .replace('{file}', 'model.json');
        const upper = method.toUpperCase();
        if (upper === 'POST' && path === '/v1/jobs') return { method: upper, url, body: QUICK_JOB };
        if (upper === 'POST' && path === '/v1/datasets') return { method: upper, url, form: () => datasetForm(9) };
        if (upper === 'POST' && path === '/v1/models') return { method: upper, url, form: () => modelForm(files) };
        return { method: upper, url };
      });
  };

  test('auth: every /v1 operation answers 401 without a valid key (before anything else), as documented', async () => {
    const ops = everyOperation();
    assert.ok(ops.length >= 17, `${ops.length} operations`);
    for (const op of ops) {
      for (const headers of [NO_KEY, bearer('dsk_not-a-key'), bearer(`dsk_${'A'.repeat(43)}`)]) {
        await call(op.method, op.url, { body: op.body, form: op.form?.(), headers, status: 401, code: 'unauthorized' });
      }
    }
    for (const path of ['/v1/events', `/v1/jobs/${jobA.id}/events?after=0`]) {
      const answer = await refusedUpgrade(`${stack.wsUrl}${path}`);
      assert.equal(answer.status, 401);
      contract.checkResponse('GET', path, answer);
      const foreign = await refusedUpgrade(`${stack.wsUrl}${path}`, { ...bearer(stack.keys.a.key), origin: 'https://elsewhere.example' });
      assert.equal(foreign.status, 403);
      contract.checkResponse('GET', path, foreign);
    }
  });

  /** A second API process on the same database and Redis, with other limits. */
  async function withServer<T>(overrides: Partial<Config>, fn: (server: RunningServer) => Promise<T>): Promise<T> {
    const server = await startServer({ ...stack.config, ...overrides }, pino({ level: 'silent' }));
    try {
      return await fn(server);
    } finally {
      await server.close();
    }
  }

  test('limits: 429 rate_limited with Retry-After on every /v1 operation and socket; quotas on creates and uploads', async () => {
    // The same Redis counters: tenant a is already over a budget of 1 request a minute.
    await withServer({ RATE_LIMIT_PER_MINUTE: 1 }, async (limited) => {
      await request(limited.url, 'GET', '/v1/jobs', undefined, bearer(stack.keys.a.key));
      for (const op of everyOperation()) {
        const answer = await call(
          op.method,
          op.url,
          { body: op.body, form: op.form?.(), headers: bearer(stack.keys.a.key), status: 429, code: 'rate_limited' },
          limited.url,
        );
        assert.equal(answer.headers.get('retry-after'), String(answer.body.retry_after));
      }
      const wsUrl = limited.url.replace(/^http/, 'ws');
      for (const path of ['/v1/events', `/v1/jobs/${jobA.id}/events?after=0`]) {
        const answer = await refusedUpgrade(`${wsUrl}${path}`, bearer(stack.keys.a.key));
        assert.equal(answer.status, 429);
        contract.checkResponse('GET', path, answer);
      }
    });
    // Job A is queued: a quota of one active job is full.
    await withServer({ MAX_ACTIVE_JOBS_PER_TENANT: 1 }, async (server) => {
      const answer = await call('POST', '/v1/jobs', { body: QUICK_JOB, status: 429, code: 'quota_active_jobs' }, server.url);
      assert.equal(answer.headers.get('retry-after'), String(answer.body.retry_after));
    });
    // a stores a dataset and a model: a quota of one byte is full.
    await withServer({ MAX_STORED_BYTES_PER_TENANT: 1 }, async (server) => {
      await call('POST', '/v1/jobs', { body: QUICK_JOB, status: 429, code: 'quota_storage' }, server.url);
      await call('POST', '/v1/datasets', { form: datasetForm(7), status: 429, code: 'quota_storage' }, server.url);
      await call('POST', '/v1/models', { form: modelForm(await tinyModel()), status: 429, code: 'quota_storage' }, server.url);
    });
  });

  let jobB: { id: string };
  let jobC: { id: string };
  let jobD: { id: string };

  test('POST /v1/jobs/{id}/cancel: a queued job is cancelled at once, a terminal one is unchanged; 400, 404, 413, 415', async () => {
    // No worker yet: every job stays queued.
    jobB = (await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, name: 'to cancel' }, status: 201 })).body;
    // Queued behind A (high priority): C fails in the engine (one training sample is one class), D is cancelled while it runs.
    jobC = (await call('POST', '/v1/jobs', { body: { ...QUICK_JOB, name: 'fails', dataset: { ...QUICK_JOB.dataset, limit: { train: 1 } } }, status: 201 }))
      .body;
    jobD = (
      await call('POST', '/v1/jobs', { body: { ...cancellableJob(), name: 'cancelled while running', max_runtime_seconds: 600, priority: 'low' }, status: 201 })
    ).body;

    // An admin key reads every tenant but writes only in its own.
    await call('POST', `/v1/jobs/${jobB.id}/cancel`, { status: 403, code: 'admin_read_only', headers: bearer(stack.keys.admin.key) });
    const cancelled = await call('POST', `/v1/jobs/${jobB.id}/cancel`, { status: 200 });
    assert.equal(cancelled.body.status, 'cancelled');
    assert.ok(cancelled.body.finished_at);
    const again = await call('POST', `/v1/jobs/${jobB.id}/cancel`, { body: {}, status: 200 });
    assert.equal(again.body.status, 'cancelled');
    assert.equal(again.body.updated_at, cancelled.body.updated_at, 'a terminal job is unchanged');

    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', { status: 404, code: 'not_found' });
    await call('POST', `/v1/jobs/${'x'.repeat(65)}/cancel`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', { body: '', status: 400, code: 'invalid_json' });
    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', {
      body: 'now',
      headers: { 'content-type': 'text/plain' },
      status: 415,
      code: 'unsupported_media_type',
    });
    await call('POST', '/v1/jobs/job_00000000000000000000000000/cancel', {
      body: { pad: 'x'.repeat(stack.config.MAX_BODY_BYTES) },
      status: 413,
      code: 'body_too_large',
    });
    // Now the worker: A (high priority), then C, then D.
    await stack.startWorker();
  });

  test('GET /v1/jobs/{id}/events over REST, and over the per-job WebSocket until it closes with 1000', async () => {
    const socket = await openSocket(`${stack.wsUrl}/v1/jobs/${jobA.id}/events?after=0`, bearer(stack.keys.a.key));
    contract.seen.add('GET /v1/jobs/{id}/events 101');
    const closed = await socket.closed;
    assert.equal(closed.code, 1000, closed.reason);
    assert.ok(documentedCloseCodes('/v1/jobs/{id}/events').includes(String(closed.code)));
    for (const message of socket.messages) contract.assertValid('EventObject', message, `event ${JSON.stringify(message).slice(0, 80)}`);
    const events = socket.messages as Array<{ seq: number; type: string; data: Record<string, unknown> }>;
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
    );
    for (const type of ['status', 'phase', 'metrics', 'epoch', 'checkpoint', 'log'])
      assert.ok(
        events.some((e) => e.type === type),
        `a ${type} event was seen`,
      );
    assert.deepEqual(events.at(-1)!.data, { status: 'succeeded', attempt: 1 });

    const all = await call('GET', `/v1/jobs/${jobA.id}/events?after=0&limit=1000`, { status: 200 });
    assert.deepEqual(all.body.data, events, 'REST lists exactly what the socket sent');
    assert.equal(all.body.has_more, false);
    const page = await call('GET', `/v1/jobs/${jobA.id}/events?after=2&limit=3`, { status: 200 });
    assert.deepEqual(
      page.body.data.map((e: { seq: number }) => e.seq),
      [3, 4, 5],
    );
    assert.equal(page.body.has_more, true);
    await call('GET', `/v1/jobs/${jobA.id}/events?after=-1`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/jobs/${jobA.id}/events?limit=1001`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/jobs/${jobA.id}/events?since=1`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs/job_00000000000000000000000000/events', { status: 404, code: 'not_found' });

    const unknown = await openSocket(`${stack.wsUrl}/v1/jobs/job_00000000000000000000000000/events`, bearer(stack.keys.a.key));
    const gone = await unknown.closed;
    assert.equal(gone.code, 4404);
    assert.ok(documentedCloseCodes('/v1/jobs/{id}/events').includes('4404'));
    const foreign = await openSocket(`${stack.wsUrl}/v1/jobs/${jobA.id}/events`, bearer(stack.keys.b.key));
    assert.equal((await foreign.closed).code, 4404, "another tenant's job is one that does not exist");
    // A query that fails validation refuses the upgrade with the documented 400; no key, 401; a foreign page, 403.
    const url = `/v1/jobs/${jobA.id}/events?after=-1`;
    const refused = await refusedUpgrade(`${stack.wsUrl}${url}`, bearer(stack.keys.a.key));
    assert.equal(refused.status, 400);
    contract.checkResponse('GET', url, refused);
    for (const [headers, status, code] of [
      [{}, 401, 'unauthorized'],
      [{ ...bearer(stack.keys.a.key), origin: 'https://elsewhere.example' }, 403, 'origin_not_allowed'],
    ] as const) {
      const path = `/v1/jobs/${jobA.id}/events?after=0`;
      const answer = await refusedUpgrade(`${stack.wsUrl}${path}`, headers);
      assert.equal(answer.status, status);
      assert.equal((answer.body as { code: string }).code, code);
      contract.checkResponse('GET', path, answer);
    }
  });

  test('artifacts: list, download of every file (tfjs model files and the report), 400 and 404', async () => {
    const list = await call('GET', `/v1/jobs/${jobA.id}/artifacts`, { status: 200 });
    const files = list.body.data as Array<{ kind: string; file: string; bytes: number; sha256: string; url: string }>;
    assert.deepEqual(
      files.map((a) => `${a.kind}/${a.file}`),
      [
        'baseline/model.json',
        'baseline/weights.bin',
        'report/report.json',
        'student/model.json',
        'student/weights.bin',
        'teacher/model.json',
        'teacher/weights.bin',
      ],
    );
    for (const artifact of files) {
      assert.equal(artifact.url, `/v1/jobs/${jobA.id}/artifacts/${artifact.kind}/${artifact.file}`);
      const raw = await fetch(`${stack.url}${artifact.url}`, { headers: bearer(stack.keys.a.key) });
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
    // Declared response schemas leave answers whole: the job as stored, the report as report.json has it.
    const row = await stack.db.job.findFirstOrThrow({ where: { id: jobA.id } });
    assert.deepEqual(job.body, JSON.parse(JSON.stringify(toJobObject(row))), 'GET /v1/jobs/{id} sends every field of the job object');
    const report = await request(stack.url, 'GET', `/v1/jobs/${jobA.id}/artifacts/report/report.json`, undefined, bearer(stack.keys.a.key));
    assert.deepEqual(job.body.result, report.body, "the job's result is the whole report");

    const empty = await call('GET', `/v1/jobs/${jobB.id}/artifacts`, { status: 200 });
    assert.deepEqual(empty.body.data, []);
    await call('GET', `/v1/jobs/${jobB.id}/artifacts/student/model.json`, { status: 404, code: 'not_found' });
    await call('GET', `/v1/jobs/${jobA.id}/artifacts/report/model.json`, { status: 404, code: 'not_found' });
    await call('GET', `/v1/jobs/${jobA.id}/artifacts/ensemble/model.json`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', `/v1/jobs/${jobA.id}/artifacts/student/model.h5`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/jobs/job_00000000000000000000000000/artifacts', { status: 404, code: 'not_found' });
    await call('GET', `/v1/jobs/${'x'.repeat(65)}/artifacts`, { status: 400, code: 'invalid_request', contractRefuses: true });
  });

  test('exports after the fact: POST /v1/jobs/{id}/exports (200, 400, 403, 404, 409, 413, 415) and GET /v1/models/{id}/model.onnx (200, 400, 404)', async () => {
    const url = `/v1/jobs/${jobA.id}/exports`;
    await call('POST', url, { body: { formats: ['tflite'] }, status: 400, code: 'invalid_request', contractRefuses: true });
    await call('POST', url, { body: { quantize: ['int4'] }, status: 400, code: 'invalid_request', contractRefuses: true });
    await call('POST', url, { body: { formats: ['onnx'] }, status: 403, code: 'admin_read_only', headers: bearer(stack.keys.admin.key) });
    await call('POST', url, { body: { formats: ['onnx'] }, status: 404, code: 'not_found', headers: bearer(stack.keys.b.key) });
    await call('POST', `/v1/jobs/${jobB.id}/exports`, { body: { formats: ['onnx'] }, status: 409, code: 'job_not_succeeded' });
    await call('POST', url, { body: 'onnx', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type' });
    await call('POST', url, { body: { pad: 'x'.repeat(stack.config.MAX_BODY_BYTES) }, status: 413, code: 'body_too_large' });
    const exported = await call('POST', url, { body: { formats: ['tfjs', 'onnx'], quantize: ['uint8'] }, status: 200 });
    const names = (exported.body.data as Array<{ kind: string; file: string }>).map((a) => `${a.kind}/${a.file}`);
    for (const name of [
      'student/model.onnx',
      'teacher/model.onnx',
      'baseline/model.onnx',
      'student-uint8/model.json',
      'student-uint8/weights.bin',
      'student-uint8/model.onnx',
    ])
      assert.ok(names.includes(name), name);
    // The report gains the rows its own run would have written: scored on the job's test split.
    const job = (await call('GET', `/v1/jobs/${jobA.id}`, { status: 200 })).body;
    const rows = (job.result.exports.variants as Array<{ artifact: string; runtime: string; test_accuracy: number }>).map((v) => `${v.artifact} ${v.runtime}`);
    assert.deepEqual(rows.sort(), ['student onnxruntime', 'student tfjs', 'student-uint8 onnxruntime', 'student-uint8 tfjs']);
    const float = job.result.exports.variants.find((v: { artifact: string; runtime: string }) => v.artifact === 'student' && v.runtime === 'tfjs');
    assert.equal(float.test_accuracy, job.result.student.test_accuracy, "the float student's row scores what the job's report says");
    assert.deepEqual(job.result.exports.onnx_checks.map((c: { kind: string }) => c.kind).sort(), ['baseline', 'student', 'teacher']);
    const reportFile = await fetch(`${stack.url}/v1/jobs/${jobA.id}/artifacts/report/report.json`, { headers: bearer(stack.keys.a.key) });
    assert.deepEqual(await reportFile.json(), job.result, 'report.json says the same');
    const again = await call('POST', url, { body: { formats: ['onnx'] }, status: 200 });
    // The report is written again (the rows it measured again); every other file stays as it was.
    const models = (list: Array<{ kind: string }>) => list.filter((a) => a.kind !== 'report');
    assert.deepEqual(models(again.body.data), models(exported.body.data), 'asking again keeps the files');
    for (const file of ['student/model.onnx', 'student-uint8/model.json']) {
      const raw = await fetch(`${stack.url}/v1/jobs/${jobA.id}/artifacts/${file}`, { headers: bearer(stack.keys.a.key) });
      const bytes = Buffer.from(await raw.arrayBuffer());
      const body = file.endsWith('.json') ? JSON.parse(bytes.toString('utf8')) : bytes;
      contract.checkResponse('GET', `/v1/jobs/${jobA.id}/artifacts/${file}`, { status: raw.status, headers: raw.headers, body });
      assert.equal(raw.status, 200);
    }

    const student = (await call('GET', `/v1/models?source_job=${jobA.id}`, { status: 200 })).body.data.find((m: { role: string }) => m.role === 'student');
    assert.ok(student, 'the job registered its student');
    for (const query of ['', '?quantize=uint8']) {
      const raw = await fetch(`${stack.url}/v1/models/${student.id}/model.onnx${query}`, { headers: bearer(stack.keys.a.key) });
      const bytes = Buffer.from(await raw.arrayBuffer());
      contract.checkResponse('GET', `/v1/models/${student.id}/model.onnx${query}`, { status: raw.status, headers: raw.headers, body: bytes });
      assert.equal(raw.status, 200);
      assert.ok(bytes.length > 100);
    }
    // At its storage quota a tenant exports nothing more (test/api/limits.test.ts counts what exports store).
    await withServer({ MAX_STORED_BYTES_PER_TENANT: 1 }, async (full) => {
      await call('POST', url, { body: { formats: ['onnx'], quantize: ['float16'] }, status: 429, code: 'quota_storage' }, full.url);
      await call('GET', `/v1/models/${student.id}/model.onnx?quantize=float16`, { status: 429, code: 'quota_storage' }, full.url);
    });
    await call('GET', `/v1/models/${student.id}/model.onnx?quantize=int4`, { status: 400, code: 'invalid_request', contractRefuses: true });
    await call('GET', '/v1/models/mdl_00000000000000000000000000/model.onnx', { status: 404, code: 'not_found' });
    // An uploaded model with a layer the exporter does not know: refused, naming the layer.
    const leaky = await call('POST', '/v1/models', { form: modelForm(await tinyModel({ leakyRelu: true })), status: 201 });
    const refused = await call('GET', `/v1/models/${leaky.body.id}/model.onnx`, { status: 400, code: 'invalid_request', contractRefuses: false });
    assert.match(refused.body.errors[0].message, /layer leaky \(LeakyReLU\) cannot be exported/);
    await call('DELETE', `/v1/models/${leaky.body.id}`, { status: 200 });
  });

  test("GET /v1/events: the multi-job WebSocket's replies and events; a failed job and a job cancelled while running", async () => {
    // With a ticket, as a browser does (the key in a header is covered by the other socket tests).
    const ticket = (await call('POST', '/v1/ws-tickets', { status: 201 })).body.ticket as string;
    const ticketUrl = `/v1/events?ticket=${ticket}`;
    assert.deepEqual(contract.requestProblems('GET', ticketUrl), [], 'the ticket is the documented wsTicket credential');
    const socket = await openSocket(`${stack.wsUrl}${ticketUrl}`);
    contract.seen.add('GET /v1/events 101');
    const reused = await refusedUpgrade(`${stack.wsUrl}${ticketUrl}`);
    assert.equal(reused.status, 401, 'a ticket opens one socket once');
    contract.checkResponse('GET', ticketUrl, reused);
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
    const ofB = (await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'of b' }, bearer(stack.keys.b.key))).body;
    await request(stack.url, 'POST', `/v1/jobs/${ofB.id}/cancel`, undefined, bearer(stack.keys.b.key));
    send({ type: 'subscribe', job_id: ofB.id }, 'SubscribeMessage');
    assert.equal((await reply((m) => m.type === 'error' && m.job_id === ofB.id)).code, 'not_found', "another tenant's job is one that does not exist");

    // A finished job: every stored event after `after`, then nothing more.
    const total = (await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`)).body.last_event_seq as number;
    send({ type: 'subscribe', job_id: jobA.id, after: 3 }, 'SubscribeMessage');
    assert.equal((await reply((m) => m.type === 'subscribed' && m.job_id === jobA.id)).after, 3);
    await reply((m) => m.object === 'event' && m.job_id === jobA.id && m.seq === total);
    const ofA = socket.messages.filter((m: any) => m.object === 'event' && m.job_id === jobA.id).map((m: any) => m.seq);
    assert.deepEqual(
      ofA,
      Array.from({ length: total - 3 }, (_, i) => i + 4),
    );
    send({ type: 'unsubscribe', job_id: jobA.id }, 'UnsubscribeMessage');
    await reply((m) => m.type === 'unsubscribed' && m.job_id === jobA.id);

    // C fails in the engine; D is followed live and cancelled once it runs.
    send({ type: 'subscribe', job_id: jobC.id }, 'SubscribeMessage');
    send({ type: 'subscribe', job_id: jobD.id, after: 0 }, 'SubscribeMessage');
    const cFailed = await reply((m) => m.job_id === jobC.id && m.type === 'status' && m.data.status === 'failed');
    assert.equal(cFailed.data.error.code, 'one_class');
    const failed = await call('GET', `/v1/jobs/${jobC.id}`, { status: 200 });
    assert.equal(failed.body.status, 'failed');
    assert.equal(failed.body.error.code, 'one_class');
    assert.equal(failed.body.result, null);

    await reply((m) => m.job_id === jobD.id && m.type === 'status' && m.data.status === 'running');
    const cancelling = await call('POST', `/v1/jobs/${jobD.id}/cancel`, { status: 200 });
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.body.status), cancelling.body.status);
    await reply((m) => m.job_id === jobD.id && m.type === 'status' && m.data.status === 'cancelled');
    const cancelled = await call('GET', `/v1/jobs/${jobD.id}`, { status: 200 });
    assert.equal(cancelled.body.status, 'cancelled');
    send({ type: 'unsubscribe', job_id: jobD.id }, 'UnsubscribeMessage');
    await reply((m) => m.type === 'unsubscribed' && m.job_id === jobD.id);

    for (const message of socket.messages)
      contract.assertValid('EventsSocketServerMessage', message, `a /v1/events message ${JSON.stringify(message).slice(0, 100)}`);
    const seen = new Set(socket.messages.map((m: any) => (m.type === 'error' ? `error:${m.code}` : m.object === 'event' ? 'event' : m.type)));
    for (const kind of ['event', 'subscribed', 'unsubscribed', 'error:invalid_json', 'error:invalid_message', 'error:not_found'])
      assert.ok(seen.has(kind), `${kind} seen`);
    socket.socket.close(1000);
    await socket.closed;
  });

  test('DELETE /v1/jobs/{id}: a finished job goes (cancelled, failed); 400, 403, 404, 409 job_active', async () => {
    const active = (await call('POST', '/v1/jobs', { body: { ...cancellableJob(), name: 'still active' }, status: 201 })).body;
    await call('DELETE', `/v1/jobs/${active.id}`, { status: 409, code: 'job_active' });
    await call('POST', `/v1/jobs/${active.id}/cancel`, { status: 200 });
    await call('DELETE', `/v1/jobs/${jobB.id}`, { status: 403, code: 'admin_read_only', headers: bearer(stack.keys.admin.key) });
    await call('DELETE', `/v1/jobs/${jobB.id}`, { status: 404, code: 'not_found', headers: bearer(stack.keys.b.key) });
    for (const job of [jobB, jobC]) {
      const deleted = await call('DELETE', `/v1/jobs/${job.id}`, { status: 200 });
      assert.deepEqual(deleted.body, { id: job.id, object: 'job', deleted: true, deleted_models: [], kept_models: [] });
      await call('GET', `/v1/jobs/${job.id}`, { status: 404, code: 'not_found' });
    }
    await call('DELETE', '/v1/jobs/job_00000000000000000000000000', { status: 404, code: 'not_found', contractRefuses: false });
    await call('DELETE', `/v1/jobs/${'x'.repeat(65)}`, { status: 400, code: 'invalid_request', contractRefuses: true });
  });

  test('health, metrics, unknown routes (route_not_found) and a plain GET on the socket-only route (426)', async () => {
    await call('GET', '/healthz', { status: 200, headers: NO_KEY });
    await call('GET', '/readyz', { status: 200, headers: NO_KEY });
    const metrics = await call('GET', '/metrics', { status: 200, headers: NO_KEY });
    assert.match(metrics.body, /^# (HELP|TYPE) /m);
    for (const [method, url] of [
      ['GET', '/v1/nothing'],
      ['PATCH', `/v1/jobs/${jobA.id}`],
      ['PUT', '/v1/jobs'],
    ] as const) {
      const answer = await request(stack.url, method, url, method === 'PUT' ? {} : undefined);
      assert.equal(answer.status, 404);
      assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
      contract.assertValid('Problem', answer.body, `${method} ${url}`);
      assert.equal(answer.body.code, 'route_not_found');
      assert.ok(answer.headers.get('x-request-id'));
    }
    await call('GET', '/v1/events', { status: 426, code: 'upgrade_required' });
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

  test('a socket opened after the terminal event (after = its seq) closes with 1000 and sends nothing', async () => {
    const { last_event_seq: last } = (await request(stack.url, 'GET', `/v1/jobs/${jobA.id}`)).body;
    const late = await openSocket(`${stack.wsUrl}/v1/jobs/${jobA.id}/events?after=${last}`, bearer(stack.keys.a.key));
    const closed = await Promise.race([late.closed, new Promise<undefined>((r) => setTimeout(r, 8000))]);
    if (!closed) late.socket.terminate();
    assert.equal(closed?.code, 1000, 'closed with 1000 within 8 s');
    assert.deepEqual(late.messages, []);
  });

  test('an unsubscribe sent right after a subscribe leaves the job unfollowed; replies come in message order', async () => {
    const socket = await openSocket(`${stack.wsUrl}/v1/events`, bearer(stack.keys.a.key));
    try {
      socket.socket.send(JSON.stringify({ type: 'subscribe', job_id: jobA.id }));
      socket.socket.send(JSON.stringify({ type: 'unsubscribe', job_id: jobA.id }));
      await socket.waitFor((m) => m.type === 'unsubscribed');
      await new Promise((r) => setTimeout(r, 1000));
      const replies = socket.messages.filter((m: any) => m.type === 'subscribed' || m.type === 'unsubscribed').map((m: any) => m.type);
      assert.deepEqual(replies, ['subscribed', 'unsubscribed'], 'answered in order');
      const afterUnsubscribe = socket.messages.slice(socket.messages.findIndex((m: any) => m.type === 'unsubscribed'));
      assert.equal(afterUnsubscribe.filter((m: any) => m.object === 'event').length, 0, 'no events after the unsubscribe');
    } finally {
      socket.socket.close();
    }
  });
});

function documentedCloseCodes(path: string): string[] {
  return Object.keys(contract.operation('get', path)['x-websocket']?.closeCodes ?? {});
}

interface OpenSocket {
  socket: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  waitFor(match: (message: any) => boolean, timeoutMs?: number): Promise<any>;
}

function openSocket(url: string, headers: Record<string, string> = {}): Promise<OpenSocket> {
  const socket = new WebSocket(url, { headers });
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

/** A multipart POST (an upload) with the given headers; the default key of `base` unless they set `authorization`. */
async function postForm(base: string, path: string, form: FormData, headers: Record<string, string> = {}): Promise<Response> {
  const sent = 'authorization' in headers ? Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== '')) : { ...headers, ...bearer(defaultKey) };
  const response = await fetch(`${base}${path}`, { method: 'POST', body: form, headers: sent });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (response.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text,
  };
}
let defaultKey = '';

/** A small CSV dataset (4 features, 2 classes, 40 rows); `variant` makes its bytes distinct. */
function datasetForm(variant: number, rows = 40, classes = 2): FormData {
  // (rows, classes: a dataset the loaders accept.)
  const lines = Array.from({ length: rows }, (_, i) => {
    const label = i % classes;
    return [...Array.from({ length: 4 }, (_, j) => ((label * 2 - 1) * (j + 1) + ((i * 7 + j * 3 + variant) % 5) / 10).toFixed(2)), `c${label}`].join(',');
  });
  const form = new FormData();
  form.append('name', `contract ${variant}`);
  form.append('label_column', 'label');
  form.append('csv', new Blob([`f0,f1,f2,f3,label\n${lines.join('\n')}\n`]), 'data.csv');
  return form;
}

function modelForm(files: { json: string; weights: Buffer }, parts: Array<'json' | 'weights'> = ['json', 'weights']): FormData {
  const form = new FormData();
  form.append('name', 'contract teacher');
  if (parts.includes('json')) form.append('model.json', new Blob([files.json]), 'model.json');
  if (parts.includes('weights')) form.append('weights', new Blob([new Uint8Array(files.weights)]), 'weights.bin');
  return form;
}
