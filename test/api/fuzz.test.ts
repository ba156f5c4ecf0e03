/**
 * Property-based fuzz (fast-check, seeded, bounded) of every route's method, path, query, headers and body,
 * and of both WebSockets' messages, sent as tenant a (or with broken credentials) over loopback: the API
 * never answers a 5xx, every refusal is a problem+json, and tenant b's data is exactly as it was.
 *
 * Failures are collected, not thrown at the first one, so one run reports every kind of 5xx it found
 * (the shortest example of each) and the data check always sees the whole run.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { request } from '../support/http.js';
import { checkSpec, pickEngineSpec } from '../../src/ml/tfjs-free.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { tinyModel } from '../support/tiny-model.js';

const SEED = 20_261_128;
const HTTP_RUNS = 600;
const SOCKET_MESSAGES = 150;
const SOCKET_UPGRADES = 40;
const SHAPE_RUNS = 250;
// The server's JSON shape limits (MAX_JSON_DEPTH, MAX_JSON_ITEMS, MAX_JSON_STRING_CHARS): their defaults.
const JSON_LIMITS = { depth: 32, items: 1000, string: 65_536 };

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}
interface Failure {
  sent: Sent;
  status: number;
  why: string;
  answer: string;
}

describe('fuzz: random and malformed input never yields a 5xx nor touches another tenant', () => {
  let stack: Stack;
  let host: { hostname: string; port: number };
  const ids = { a: [] as string[], b: [] as string[] };
  let snapshotB: unknown;
  const failures: Failure[] = [];
  const statuses = new Map<number, number>();

  before(async () => {
    // No overload shedding (503 while the event loop lags): on a loaded test machine it would be noise here.
    stack = await startStack({ workers: 0 });
    const url = new URL(stack.url);
    host = { hostname: url.hostname, port: Number(url.port) };
    const b = { authorization: `Bearer ${stack.keys.b.key}` };
    // b: a queued job (cancellable, so a cancel that got through would show), a cancelled one, an idempotency key.
    for (const [name, cancel] of [
      ['b-queued', false],
      ['b-cancelled', true],
    ] as const) {
      const job = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name, metadata: { tenant: 'b' } }, { ...b, 'idempotency-key': `b-${name}` });
      assert.equal(job.status, 201);
      ids.b.push(job.body.id);
      if (cancel) assert.equal((await request(stack.url, 'POST', `/v1/jobs/${job.body.id}/cancel`, undefined, b)).status, 200);
    }
    // b's dataset (a CSV) and model (a tiny tfjs layers model), which a's deletes must not reach.
    const dataset = await postMultipart(stack.url, '/v1/datasets', b, [
      { name: 'label_column', content: 'label' },
      {
        name: 'csv',
        filename: 'b.csv',
        content: `f0,f1,label\n${Array.from({ length: 30 }, (_, i) => `${i % 2 ? 1 : -1}.${i % 7},${i % 3},${i % 2 ? 'p' : 'q'}`).join('\n')}\n`,
      },
    ]);
    assert.equal(dataset.status, 201, dataset.text);
    ids.b.push(JSON.parse(dataset.text).id);
    const files = await tinyModel();
    const model = await postMultipart(stack.url, '/v1/models', b, [
      { name: 'model.json', filename: 'model.json', content: files.json },
      { name: 'weights', filename: 'weights.bin', content: files.weights },
    ]);
    assert.equal(model.status, 201, model.text);
    ids.b.push(JSON.parse(model.text).id);
    const a = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'a-queued' });
    ids.a.push(a.body.id);
    snapshotB = await tenantData(stack, 'tenant-b');
  });
  after(() => stack?.stop());

  /** Sends exactly what it is given (path unnormalised, body as bytes) and records anything but a sound answer. */
  async function send(sent: Sent): Promise<{ status: number; answer: string } | undefined> {
    let status = 0;
    let answer = '';
    let type = '';
    try {
      ({ status, text: answer, type } = await rawRequest(host, sent));
    } catch (err) {
      failures.push({ sent, status: 0, why: `no answer: ${(err as Error).message}`, answer: '' });
      return;
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const fail = (why: string): undefined => void failures.push({ sent, status, why, answer: answer.slice(0, 300) });
    if (status >= 500 || status < 100) return fail(`status ${status}`);
    if (status >= 400 && sent.method !== 'HEAD') {
      if (!/^application\/problem\+json/.test(type)) return fail(`a ${status} that is not problem+json (${type})`);
      let problem: { code?: unknown; status?: unknown; errors?: Array<{ field?: unknown }> };
      try {
        problem = JSON.parse(answer);
      } catch {
        return fail('a problem body that is not JSON');
      }
      if (typeof problem.code !== 'string' || problem.status !== status) return fail('a problem without its code or status');
      if (/"stack"|\bat .+\.(ts|js):\d+|Prisma|SELECT |postgres/i.test(answer)) return fail('internals in a refusal');
      // A refusal of the input names the field at fault.
      if ((problem.code === 'invalid_request' || problem.code === 'json_too_complex') && typeof problem.errors?.[0]?.field !== 'string')
        return fail(`a ${problem.code} that names no field`);
    }
    return { status, answer };
  }

  test(`${HTTP_RUNS} random requests to every route (seed ${SEED}): no 5xx, every refusal a problem+json`, async () => {
    await fc.assert(
      fc.asyncProperty(requestArbitrary(stack, ids), async (sent) => {
        await send(sent);
      }),
      { numRuns: HTTP_RUNS, seed: SEED, endOnFailure: true, examples: edgeExamples(stack, ids).map((e) => [e]) },
    );
    const seen = [...statuses.entries()]
      .sort(([x], [y]) => x - y)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    // The fuzz reached past the front door: created, read, refused for many reasons.
    for (const status of [200, 201, 400, 401, 404]) assert.ok(statuses.has(status), `status ${status} was reached (${seen})`);
    assert.deepEqual(report(failures), [], `failures among ${HTTP_RUNS} requests (statuses: ${seen})`);
  });

  test(`${SOCKET_UPGRADES} random per-job socket upgrades and ${SOCKET_MESSAGES} random messages on /v1/events: sound answers, no event of b`, async () => {
    const socketFailures: string[] = [];
    const key = { authorization: `Bearer ${stack.keys.a.key}` };
    await fc.assert(
      fc.asyncProperty(
        idArbitrary(ids).filter((id) => id !== '.' && id !== '..'),
        queryArbitrary(ids),
        async (id, query) => {
          const url = `${stack.wsUrl}/v1/jobs/${percentEncode(id)}/events${query}`;
          const outcome = await tryUpgrade(url, key);
          if (outcome.status !== undefined && (outcome.status >= 500 || outcome.status < 400))
            socketFailures.push(`${url}: upgrade answered ${outcome.status}`);
          if (outcome.messages.some((m) => ids.b.includes(m.job_id))) socketFailures.push(`${url}: an event of b's job`);
          if (outcome.close !== undefined && ![1000, 4404].includes(outcome.close)) socketFailures.push(`${url}: closed with ${outcome.close}`);
        },
      ),
      { numRuns: SOCKET_UPGRADES, seed: SEED + 1, endOnFailure: true },
    );

    const socket = new WebSocket(`${stack.wsUrl}/v1/events`, { headers: key });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const received: any[] = [];
    let closed: number | undefined;
    socket.on('message', (data) => received.push(JSON.parse(String(data))));
    socket.on('close', (code) => (closed = code));
    const messages = fc.sample(socketMessageArbitrary(ids), { numRuns: SOCKET_MESSAGES, seed: SEED + 2 });
    for (const message of messages) socket.send(message);
    // A last, valid subscribe: its answer arrives after every other (messages are handled in order).
    socket.send(JSON.stringify({ type: 'subscribe', job_id: ids.a[0], after: 0 }));
    const deadline = Date.now() + 30_000;
    while (!received.some((m) => m.type === 'subscribed' && m.job_id === ids.a[0] && m.after === 0) && Date.now() < deadline && closed === undefined) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    socket.close();
    assert.equal(closed, undefined, 'the server kept the socket open');
    assert.ok(
      received.some((m) => m.type === 'subscribed' && m.job_id === ids.a[0]),
      'the socket still answers after the fuzz',
    );
    for (const m of received) {
      if (m.object === 'event') {
        if (ids.b.includes(m.job_id)) socketFailures.push(`an event of b's job ${m.job_id}`);
      } else if (!['subscribed', 'unsubscribed', 'error'].includes(m.type)) socketFailures.push(`an unknown reply ${JSON.stringify(m)}`);
      else if (m.type === 'subscribed' && ids.b.includes(m.job_id)) socketFailures.push(`subscribed to b's job ${m.job_id}`);
      else if (m.type === 'error' && !['invalid_json', 'invalid_message', 'not_found', 'too_many_subscriptions'].includes(m.code))
        socketFailures.push(`an unknown error ${JSON.stringify(m)}`);
    }
    assert.deepEqual(socketFailures, []);
  });

  test(`${SHAPE_RUNS} hostile shapes (deep, long, wide, prototype keys, doubled query parameters, wrong union branches, over-long strings), with and without Idempotency-Key: a 4xx problem+json naming the field`, async () => {
    const shapeFailures: string[] = [];
    let keys = 0;
    await fc.assert(
      fc.asyncProperty(shapeArbitrary(ids), fc.boolean(), async (shaped, withKey) => {
        const sent: Sent = {
          ...shaped.sent,
          headers: {
            authorization: `Bearer ${stack.keys.a.key}`,
            ...shaped.sent.headers,
            ...(withKey ? { 'idempotency-key': `shape-${SEED}-${++keys}` } : {}),
          },
        };
        const answered = await send(sent);
        if (!answered) return; // a 5xx or an unsound refusal: reported with the others
        const { status, answer: text } = answered;
        const where = `${shaped.what}${withKey ? ' (Idempotency-Key)' : ''}: ${sent.method} ${sent.path.slice(0, 120)}`;
        if (status === 429) return; // the tenant's rate limit: not this property's concern
        const problem = JSON.parse(text) as { code?: string; detail?: string; errors?: Array<{ field?: unknown; message?: unknown }> };
        const expected = shaped.expect;
        const code = sent.path === '/v1/ws-tickets' && (sent.body?.length ?? 0) > 1024 ? 'body_too_large' : expected.code;
        if (status !== (code === 'body_too_large' ? 413 : 400) || problem.code !== code)
          return void shapeFailures.push(`${where} → ${status} ${problem.code}, expected ${code}: ${problem.detail?.slice(0, 200)}`);
        if (code === 'body_too_large') return;
        const first = problem.errors?.[0];
        if (!first || typeof first.field !== 'string' || typeof first.message !== 'string')
          return void shapeFailures.push(`${where} → no field named: ${text.slice(0, 200)}`);
        if (!problem.detail?.startsWith(first.field))
          shapeFailures.push(`${where} → the detail does not start with the field: ${problem.detail?.slice(0, 200)}`);
        if (expected.field && !(typeof expected.field === 'string' ? first.field === expected.field : expected.field.test(first.field))) {
          shapeFailures.push(`${where} → field ${first.field.slice(0, 200)}, expected ${String(expected.field).slice(0, 200)}`);
        }
        if (expected.message && !expected.message.test(first.message))
          shapeFailures.push(`${where} → message ${first.message.slice(0, 200)}, expected ${expected.message}`);
        for (const e of problem.errors ?? []) {
          if (typeof e.message === 'string' && expected.never?.test(e.message))
            shapeFailures.push(`${where} → the other branch's complaint: ${e.field} ${e.message}`);
        }
      }),
      { numRuns: SHAPE_RUNS, seed: SEED + 3, endOnFailure: true },
    );
    assert.deepEqual(report(failures), [], 'no 5xx and sound refusals among the hostile shapes');
    assert.deepEqual([...new Set(shapeFailures)].slice(0, 20), [], `${shapeFailures.length} answers that do not name the field or the limit`);
  });

  test("tenant b's jobs, events, idempotency keys and artifacts are exactly as before; the API is still ready", async () => {
    assert.deepEqual(await tenantData(stack, 'tenant-b'), snapshotB);
    const listed = await request(stack.url, 'GET', '/v1/jobs?limit=100', undefined, { authorization: `Bearer ${stack.keys.b.key}` });
    assert.deepEqual(listed.body.data.map((j: { id: string }) => j.id).sort(), ids.b.filter((id) => id.startsWith('job_')).sort());
    for (const id of ids.b.filter((i) => !i.startsWith('job_'))) {
      const kind = id.startsWith('ds_') ? 'datasets' : 'models';
      assert.equal(
        (await request(stack.url, 'GET', `/v1/${kind}/${id}`, undefined, { authorization: `Bearer ${stack.keys.b.key}` })).status,
        200,
        `b's ${id} is still there`,
      );
    }
    assert.equal((await request(stack.url, 'GET', '/readyz')).status, 200);
  });
});

// ------------------------------------------------------------------------------------------ arbitraries

/** Hand-picked edges every run tries first (the random ones around them vary with the ids of the run). */
function edgeExamples(stack: Stack, ids: { a: string[]; b: string[] }): Sent[] {
  const auth = { authorization: `Bearer ${stack.keys.a.key}` };
  const json = { ...auth, 'content-type': 'application/json' };
  return [
    { method: 'GET', path: '/v1/jobs/%00', headers: auth },
    { method: 'GET', path: `/v1/jobs/${ids.a[0]}/events?after=99999999999`, headers: auth },
    { method: 'GET', path: '/v1/jobs?limit=Infinity', headers: auth },
    { method: 'GET', path: '/v1/jobs?after=%00', headers: auth },
    { method: 'POST', path: '/v1/jobs', headers: json, body: JSON.stringify({ ...QUICK_JOB, name: 'a\u0000b' }) },
    { method: 'POST', path: '/v1/jobs', headers: json, body: JSON.stringify({ ...QUICK_JOB, metadata: { 'k\u0000': 'v' } }) },
    { method: 'POST', path: '/v1/jobs', headers: json, body: JSON.stringify({ ...QUICK_JOB, metadata: { k: 'a\ud800b' } }) },
    { method: 'POST', path: '/v1/jobs', headers: json, body: JSON.stringify({ ...QUICK_JOB, metadata: { 'k\udc00': 'v' } }) },
    { method: 'GET', path: `/v1/jobs?after=${'x'.repeat(20_000)}`, headers: auth },
  ];
}

/** Strings that are mostly ordinary, with a fair share of the characters that break things (NUL, controls, lone surrogates, quotes). */
const nasty = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '\u0000',
          '\u0007',
          '\u001f',
          '\u007f',
          '\u0085',
          '\u2028',
          '\ud800',
          '\udfff',
          '\ufeff',
          '\uffff',
          '%',
          '\\',
          '"',
          "'",
          '/',
          '?',
          '#',
          '&',
          '=',
        ),
      },
      {
        weight: 5,
        arbitrary: fc
          .oneof(
            fc.integer({ min: 0x20, max: 0x7e }),
            fc.integer({ min: 0xa0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff),
          )
          .map((c) => String.fromCodePoint(c)),
      },
    ),
    maxLength,
  });
const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const NASTY = [
  '',
  '.',
  '..',
  '%',
  '%00',
  '%zz',
  '%2F',
  '%2e%2e',
  '/',
  '\\',
  ' ',
  '\u0000',
  '\u202e',
  '🙂',
  "' OR '1'='1",
  '${jndi:ldap://x}',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  'null',
  'undefined',
  '-1',
  '1e400',
  'x'.repeat(65),
  'x'.repeat(10_000),
];

function idArbitrary(ids: { a: string[]; b: string[] }): fc.Arbitrary<string> {
  const base32 = fc.string({ unit: fc.constantFrom(...'0123456789abcdefghjkmnpqrstvwxyz'), minLength: 26, maxLength: 26 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ids.b) },
    { weight: 1, arbitrary: fc.constantFrom(...ids.a) },
    { weight: 2, arbitrary: base32.map((s) => `job_${s}`) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
    { weight: 2, arbitrary: nasty(80) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) },
    { weight: 1, arbitrary: fc.constantFrom(...ids.b).map((id) => `${id.toUpperCase()}`) },
  );
}

const queryValue = (ids: { a: string[]; b: string[] }) =>
  fc.oneof(
    fc.integer().map(String),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
    fc.double().map(String),
    fc.constantFrom(
      '',
      '0',
      '1',
      '100',
      '101',
      '1000',
      '1001',
      '2147483647',
      '2147483648',
      '-1',
      '1e3',
      '0x10',
      'NaN',
      'Infinity',
      'true',
      'queued',
      'running',
      'succeeded',
      'done',
      'job',
      'uploaded',
      'builtin:mnist',
    ),
    fc.constantFrom(...ids.b, ...ids.a),
    fc.constantFrom(...NASTY),
    fc.constantFrom('2147483648', '99999999999', '1e21', '9007199254740993', '-0', '00', '1.5', ' 1', '1 '),
    nasty(30),
    fc.string({ unit: 'binary-ascii', maxLength: 10 }),
  );

/** A query string: mostly the route's own parameters (and `ticket`), sometimes any name; encoded, or raw. */
function queryArbitrary(ids: { a: string[]; b: string[] }, names: string[] = ['after', 'limit']): fc.Arbitrary<string> {
  const name = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...names, 'ticket') }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) });
  const pairs = fc.array(fc.tuple(name, queryValue(ids)), { maxLength: 4 });
  return fc.oneof(
    pairs.map((p) => (p.length ? `?${new URLSearchParams(p).toString()}` : '')),
    // Unencoded, as a careless client sends it (only what an HTTP request line can carry).
    pairs.map((p) => (p.length ? `?${p.map(([k, v]) => `${rawSegment(k)}=${rawSegment(v)}`).join('&')}` : '')),
  );
}

/** Every path inside QUICK_JOB, to replace one value at a time. */
function pathsOf(value: unknown, at: string[] = []): string[][] {
  if (!value || typeof value !== 'object') return [at];
  return [at, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...at, k]))];
}
const JOB_PATHS = pathsOf(QUICK_JOB);

function setAt(value: unknown, path: string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string, ...string[]];
  const copy: Record<string, unknown> = Array.isArray(value) ? ({ ...value } as Record<string, unknown>) : { ...(value as Record<string, unknown>) };
  copy[head] = setAt(copy[head], rest, replacement);
  return copy;
}

const jsonish = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: nasty(40) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      null,
      0,
      -1,
      -0,
      1.5,
      2 ** 31,
      2 ** 53,
      1e308,
      -1e308,
      '',
      'x'.repeat(5000),
      '\u0000',
      'a\u0000b',
      '\ud800',
      [],
      {},
      [[[]]],
      { '': 1 },
      { __proto__: { polluted: true } },
      'builtin:mnist',
      'builtin:synthetic',
      'ds_00000000000000000000000000',
      'mdl_00000000000000000000000000',
      true,
      false,
    ),
  },
);

function bodyArbitrary(ids: { a: string[]; b: string[] }): fc.Arbitrary<string | undefined> {
  const mutatedJob = fc.tuple(fc.constantFrom(...JOB_PATHS), jsonish).map(([path, value]) => setAt(QUICK_JOB, path, value));
  const jobExtras = fc
    .record(
      {
        name: fc.oneof(nasty(250), jsonish),
        metadata: fc.oneof(fc.dictionary(nasty(70), fc.oneof(nasty(600), jsonish), { maxKeys: 20 }), jsonish),
        priority: fc.oneof(fc.constantFrom('low', 'normal', 'high', 'urgent'), jsonish),
        max_runtime_seconds: fc.oneof(fc.integer(), jsonish),
        webhook: fc.oneof(fc.record({ url: fc.oneof(fc.webUrl(), fc.string()), secret: fc.string({ maxLength: 300 }) }), jsonish),
        teacher: fc.oneof(
          fc.constant({ model_id: 'mdl_00000000000000000000000000' }),
          fc.constantFrom(...ids.b).map((id) => ({ model_id: id })),
        ),
        extra: fc.tuple(fc.string({ maxLength: 10 }), jsonish),
      },
      { requiredKeys: [] },
    )
    .map(({ extra, ...fields }) => ({ ...QUICK_JOB, ...fields, ...(extra ? { [extra[0]]: extra[1] } : {}) }));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: mutatedJob.map((b) => JSON.stringify(b)) },
    { weight: 3, arbitrary: jobExtras.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: fc.jsonValue().map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: fc.constant(JSON.stringify(QUICK_JOB)) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.constantFrom(
          '{',
          '[',
          '"',
          'null',
          'true',
          '{"a":',
          '{"__proto__":{"polluted":1}}',
          '{"constructor":{"prototype":{"polluted":1}}}',
          '['.repeat(5000) + ']'.repeat(5000),
          `{"name":"${'x'.repeat(2_000_000)}"}`,
          '\u0000',
          '\ufeff{}',
          '{"dataset":1,"dataset":2}',
        ),
      ),
    },
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/problem+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  ';',
  'application/json;;;',
];

function requestArbitrary(stack: Stack, ids: { a: string[]; b: string[] }): fc.Arbitrary<Sent> {
  const id = idArbitrary(ids);
  const segment = fc.tuple(id, fc.boolean()).map(([raw, encode]) => (encode ? percentEncode(raw) : rawSegment(raw)));
  const kind = fc.oneof(fc.constantFrom('student', 'teacher', 'baseline', 'report'), fc.constantFrom(...NASTY).map(percentEncode));
  const file = fc.oneof(fc.constantFrom('model.json', 'weights.bin', 'report.json'), fc.constantFrom(...NASTY).map(percentEncode));
  type Route = [method: string, path: string, query: string[]];
  const r = (method: string, path: string, query: string[] = []): Route => [method, path, query];
  const route: fc.Arbitrary<Route> = fc.oneof(
    { weight: 4, arbitrary: fc.constant(r('POST', '/v1/jobs')) },
    { weight: 2, arbitrary: fc.constant(r('GET', '/v1/jobs', ['after', 'limit', 'status'])) },
    segment.map((s) => r('GET', `/v1/jobs/${s}`)),
    segment.map((s) => r('POST', `/v1/jobs/${s}/cancel`)),
    { weight: 2, arbitrary: segment.map((s) => r('GET', `/v1/jobs/${s}/events`, ['after', 'limit'])) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(...ids.a, ...ids.b.filter((id) => id.startsWith('job_'))).map((id) => r('GET', `/v1/jobs/${id}/events`, ['after', 'limit'])),
    },
    segment.map((s) => r('GET', `/v1/jobs/${s}/artifacts`)),
    fc.tuple(segment, kind, file).map(([s, k, f]) => r('GET', `/v1/jobs/${s}/artifacts/${k}/${f}`)),
    fc.constant(r('POST', '/v1/ws-tickets')),
    fc.constant(r('GET', '/v1/events')),
    { weight: 3, arbitrary: fc.constant(r('POST', '/v1/datasets')) },
    fc.constant(r('GET', '/v1/datasets', ['after', 'limit'])),
    fc.tuple(fc.constantFrom('GET', 'DELETE'), segment).map(([m, s]) => r(m, `/v1/datasets/${s}`)),
    { weight: 3, arbitrary: fc.constant(r('POST', '/v1/models')) },
    fc.constant(r('GET', '/v1/models', ['after', 'limit', 'source', 'source_job'])),
    fc.tuple(fc.constantFrom('GET', 'DELETE'), segment).map(([m, s]) => r(m, `/v1/models/${s}`)),
    fc.tuple(segment, fc.oneof(fc.constantFrom('model.json', 'weights.bin'), file)).map(([s, f]) => r('GET', `/v1/models/${s}/${f}`)),
    // Other methods on the same paths, and paths next to them.
    fc.tuple(fc.constantFrom('PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'GET', 'POST'), segment).map(([m, s]) => r(m, `/v1/jobs/${s}`)),
    fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'DELETE'),
        fc.constantFrom(
          '/v1',
          '/v1/',
          '/v1/jobs/',
          '//v1/jobs',
          '/v1//jobs',
          '/V1/JOBS',
          '/v1/jobs/./x',
          '/v1/jobs/../jobs',
          '/v1/ws-tickets/x',
          '/v1/events/x',
          '/v1/jobs?',
          '/%2e%2e/v1/jobs',
        ),
      )
      .map(([m, p]) => r(m, p)),
  );
  const auth = fc.oneof(
    { weight: 16, arbitrary: fc.constant(`Bearer ${stack.keys.a.key}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: printable(80) },
    { weight: 1, arbitrary: printable(60).map((s) => `Bearer dsk_${s}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${stack.keys.a.key}`).map((k) => k.slice(0, -1) + (k.endsWith('A') ? 'B' : 'A')) },
  );
  return route
    .chain((picked) =>
      fc.record({
        route: fc.constant(picked),
        query: queryArbitrary(ids, picked[2]),
        body: bodyArbitrary(ids),
        contentType: fc.constantFrom(...CONTENT_TYPES),
        upload: fc.option(multipartArbitrary(ids), { nil: undefined, freq: 4 }),
        auth,
        idempotencyKey: fc.option(fc.oneof(printable(300), fc.constantFrom(...ids.b.map((id) => id), 'b-b-queued', 'b-b-cancelled')), { nil: undefined }),
        requestId: fc.option(printable(200), { nil: undefined }),
      }),
    )
    .map(({ route: [method, path], query, body: jsonBody, contentType: jsonType, upload, auth: authorization, idempotencyKey, requestId }) => {
      // Upload routes mostly get multipart bodies; any route sometimes does.
      const multipart = upload !== undefined && (path === '/v1/datasets' || path === '/v1/models' || upload.body.length % 5 === 0);
      const body = multipart ? upload.body : jsonBody;
      const contentType = multipart ? upload.contentType : jsonType;
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers.authorization = authorization;
      if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
      if (requestId !== undefined) headers['x-request-id'] = requestId;
      const withBody = body !== undefined && method !== 'GET' && method !== 'HEAD' && method !== 'TRACE';
      if (withBody && contentType) headers['content-type'] = contentType;
      return { method, path: `${path}${path.includes('?') ? '' : query}`, headers, body: withBody ? body : undefined };
    });
}

/** multipart/form-data bodies: dataset and model fields with random, near-valid and hostile contents. */
function multipartArbitrary(ids: { a: string[]; b: string[] }): fc.Arbitrary<{ body: string; contentType: string }> {
  const csv = fc
    .tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 4 }))
    .map(([rows, cols]) =>
      [
        [...Array.from({ length: cols }, (_, j) => `f${j}`), 'label'].join(','),
        ...Array.from({ length: rows }, (_, i) => [...Array.from({ length: cols }, (_, j) => String((i * (j + 3)) % 7)), i % 3 ? 'x' : 'y'].join(',')),
      ].join('\n'),
    );
  const modelJson = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          format: fc.oneof(fc.constant('layers-model'), fc.string()),
          modelTopology: jsonish,
          weightsManifest: fc.oneof(jsonish, fc.constant([{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [1e9, 1e9], dtype: 'float32' }] }])),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
  );
  const part = fc.record({
    name: fc.oneof(
      {
        weight: 5,
        arbitrary: fc.constantFrom(
          'csv',
          'train_images',
          'train_labels',
          'test_images',
          'test_labels',
          'name',
          'format',
          'label_column',
          'model.json',
          'model',
          'weights',
        ),
      },
      { weight: 1, arbitrary: printable(20) },
    ),
    filename: fc.option(
      fc.oneof(fc.constantFrom('data.csv', 'weights.bin', 'model.json', 'train-images-idx3-ubyte.gz', '../../etc/passwd', '', '.', 'a"b'), printable(30)),
      { nil: undefined },
    ),
    content: fc.oneof(
      csv,
      modelJson,
      fc.string({ maxLength: 300 }),
      fc.constantFrom('', 'idx', 'csv', 'label', '\u0000', '\x1f\x8b\x08\x00garbage', '\x00\x00\x08\x03\x00\x00\x00\x02'),
      fc.constantFrom(...ids.b),
    ),
  });
  return fc
    .tuple(fc.array(part, { maxLength: 5 }), fc.constantFrom('complete', 'complete', 'complete', 'unterminated', 'wrong-boundary', 'no-boundary'))
    .map(([parts, shape]) => {
      const boundary = 'fuzzb0undary';
      let body = parts
        .map(
          (p) =>
            `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}\r\n\r\n${p.content}\r\n`,
        )
        .join('');
      if (shape !== 'unterminated') body += `--${boundary}--\r\n`;
      const contentType = shape === 'no-boundary' ? 'multipart/form-data' : `multipart/form-data; boundary=${shape === 'wrong-boundary' ? 'other' : boundary}`;
      return { body, contentType };
    });
}

function socketMessageArbitrary(ids: { a: string[]; b: string[] }): fc.Arbitrary<string> {
  const after = fc.oneof(fc.nat({ max: 50 }), fc.integer(), fc.double(), jsonish);
  return fc.oneof(
    fc.record({ type: fc.constantFrom('subscribe', 'unsubscribe'), job_id: idArbitrary(ids), after }, { requiredKeys: ['type'] }).map((m) => JSON.stringify(m)),
    fc
      .record({ type: fc.oneof(fc.string({ maxLength: 12 }), jsonish), job_id: fc.oneof(idArbitrary(ids), jsonish) }, { requiredKeys: [] })
      .map((m) => JSON.stringify(m)),
    fc.jsonValue().map((m) => JSON.stringify(m)),
    fc.string({ maxLength: 300 }),
    fc.constantFrom('', '{', 'null', '[]', '{"type":"subscribe"}', '{"type":"subscribe","job_id":null}', '{"__proto__":{"type":"subscribe"}}'),
  );
}

interface Shaped {
  what: string;
  sent: Sent;
  /** The refusal expected: its code, the field (exact, or a pattern), its message, and messages it must never hold. */
  expect: { code: string; field?: string | RegExp; message?: RegExp; never?: RegExp };
}

const pointerOf = (path: string[]) => path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

/** QUICK_JOB with the JSON text `inner` at `path`. */
function jobWith(path: string[], inner: string): string {
  return JSON.stringify(setAt(QUICK_JOB, path, '\u0001PLACE\u0001')).replace('"\\u0001PLACE\\u0001"', () => inner);
}

/**
 * Bodies and queries of a known class, each with the refusal it must get: nesting past the depth limit,
 * arrays and objects past the item limit, strings past the length limit (anywhere in a job body, on
 * every route that reads JSON), prototype keys, a query parameter given twice, values that take the wrong
 * branch of a union in the job spec, and strings over a field's own limit.
 */
function shapeArbitrary(ids: { a: string[]; b: string[] }): fc.Arbitrary<Shaped> {
  const json = { 'content-type': 'application/json' };
  const bodyRoute = fc.oneof(
    { weight: 6, arbitrary: fc.constant(['POST', '/v1/jobs']) },
    fc.constant(['POST', `/v1/jobs/${ids.a[0]}/cancel`]),
    fc.constant(['POST', '/v1/ws-tickets']),
    fc.constant(['POST', '/v1/datasets']),
    fc.constant(['POST', '/v1/models']),
    fc.constant(['DELETE', '/v1/datasets/ds_00000000000000000000000000']),
  );
  const path = fc.constantFrom(...JOB_PATHS.filter((p) => p.length > 0));
  const where = fc.tuple(bodyRoute, path);
  const container = (levels: number, kind: string) => {
    let text = '1';
    const segments: string[] = [];
    for (let i = 0; i < levels; i++) {
      const array = kind === 'array' || (kind === 'mixed' && i % 2 === 1);
      text = array ? `[${text}]` : `{"k~/":${text}}`;
      segments.unshift(array ? '0' : 'k~/');
    }
    return { text, segments };
  };
  const deep = fc
    .tuple(where, fc.integer({ min: JSON_LIMITS.depth, max: 20_000 }), fc.constantFrom('array', 'object', 'mixed'))
    .map(([[[method, url], at], levels, kind]): Shaped => {
      const { text, segments } = container(levels, kind);
      const field = pointerOf([...at, ...segments].slice(0, JSON_LIMITS.depth));
      return {
        what: `${levels} nested (${kind}) at ${pointerOf(at)}`,
        sent: { method, path: url, headers: json, body: jobWith(at, text) },
        expect: { code: 'json_too_complex', field, message: new RegExp(`limit is ${JSON_LIMITS.depth} levels`) },
      };
    });
  const long = fc
    .tuple(where, fc.integer({ min: JSON_LIMITS.items + 1, max: 5 * JSON_LIMITS.items }), fc.boolean())
    .map(([[[method, url], at], n, object]): Shaped => {
      const text = object
        ? JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))
        : JSON.stringify(Array.from({ length: n }, (_, i) => (i % 2 ? 'x' : { type: 'dense' })));
      const field = pointerOf([...at, object ? `k${JSON_LIMITS.items}` : String(JSON_LIMITS.items)]);
      return {
        what: `${n} ${object ? 'keys' : 'items'} at ${pointerOf(at)}`,
        sent: { method, path: url, headers: json, body: jobWith(at, text) },
        expect: { code: 'json_too_complex', field, message: new RegExp(`limit is ${JSON_LIMITS.items} (items|keys)`) },
      };
    });
  const longString = fc
    .tuple(where, fc.integer({ min: JSON_LIMITS.string + 1, max: 4 * JSON_LIMITS.string }), fc.boolean())
    .map(([[[method, url], at], n, asKey]): Shaped => {
      const text = asKey ? `{${JSON.stringify('k'.repeat(n))}:1}` : JSON.stringify('s'.repeat(n));
      // A key too long to quote is reported on the object that holds it.
      const field = pointerOf(at);
      return {
        what: `a ${asKey ? 'key' : 'string'} of ${n} characters at ${pointerOf(at)}`,
        sent: { method, path: url, headers: json, body: jobWith(at, text) },
        expect: { code: 'json_too_complex', field, message: new RegExp(`limit is ${JSON_LIMITS.string} characters`) },
      };
    });
  const prototypeKey = fc
    .tuple(where, fc.constantFrom('__proto__', 'constructor.prototype', '\\u005f_proto__'), jsonish)
    .map(([[[method, url], at], key, value]): Shaped => {
      const inner = JSON.stringify(value ?? null);
      const text = key === 'constructor.prototype' ? `{"constructor":{"prototype":${inner}}}` : `{"ok":1,"${key}":${inner}}`;
      const field = pointerOf([...at, ...(key === 'constructor.prototype' ? ['constructor', 'prototype'] : ['__proto__'])]);
      return {
        what: `a ${key} key at ${pointerOf(at)}`,
        sent: { method, path: url, headers: json, body: jobWith(at, text) },
        expect: { code: 'invalid_request', field, message: /not accepted.*prototype/ },
      };
    });
  const name = fc.oneof(
    fc.constantFrom('limit', 'after', 'status', 'ticket', 'source'),
    fc.string({ unit: fc.constantFrom(...'abcxyz_-'), minLength: 1, maxLength: 8 }),
  );
  const doubled = fc
    .tuple(
      fc.constantFrom(
        ['GET', '/v1/jobs'],
        ['GET', '/v1/datasets'],
        ['GET', '/v1/models'],
        ['GET', `/v1/jobs/${ids.a[0]}`],
        ['GET', `/v1/jobs/${ids.a[0]}/events`],
        ['GET', `/v1/jobs/${ids.a[0]}/artifacts`],
        ['POST', '/v1/jobs'],
        ['POST', '/v1/ws-tickets'],
        ['GET', '/v1/datasets/builtin:mnist'],
      ),
      name,
      fc.array(queryValue(ids), { minLength: 2, maxLength: 4 }),
    )
    .map(([[method, url], key, values]): Shaped => {
      const query = new URLSearchParams(values.map((v) => [key, v])).toString();
      const body = method === 'POST' ? JSON.stringify(url === '/v1/jobs' ? QUICK_JOB : {}) : undefined;
      return {
        what: `${key} given ${values.length} times`,
        sent: { method, path: `${url}?${query}`, headers: body ? json : {}, body },
        expect: { code: 'invalid_request', field: `querystring:/${key}`, message: new RegExp(`given ${values.length} times`) },
      };
    });
  const layer = fc.oneof(
    fc.record(
      {
        type: fc.constantFrom('dense', 'conv2d', 'flatten', 'dropout', 'lstm', 'Dense', ''),
        units: fc.oneof(fc.integer({ min: -5, max: 10 }), jsonish),
        rate: fc.oneof(fc.double(), jsonish),
      },
      { requiredKeys: ['type'] },
    ),
    fc.record({ units: fc.integer({ min: 1, max: 10 }) }),
    jsonish,
  );
  const validLayers = fc.array(fc.constant({ type: 'dense', units: 4 }), { minLength: 1, maxLength: 3 });
  const wrongBranch = fc
    .oneof(
      fc.tuple(fc.integer({ min: 65, max: 200 }), fc.constantFrom('student', 'teacher')).map(([n, who]) => ({
        what: `${who} with ${n} layers`,
        body: { ...QUICK_JOB, [who]: { model: { layers: Array(n).fill({ type: 'dense', units: 4 }) } } },
        expect: { field: `/${who}/model/layers`, message: /at most 64 items/, never: /preset/ },
      })),
      fc
        .tuple(fc.array(layer, { minLength: 1, maxLength: 4 }), fc.constantFrom('student', 'teacher'))
        .map(([layers, who]) => ({
          what: `${who} with layers ${JSON.stringify(layers).slice(0, 80)}`,
          body: { ...QUICK_JOB, [who]: { model: { layers } } },
          expect: { field: new RegExp(`^/${who}/model/layers`), never: /preset|anyOf/ },
        }))
        .filter(({ body }) => checkSpec(pickEngineSpec(body)).length > 0), // (random layers may make a model that works)
      fc
        .tuple(
          fc.oneof(fc.constantFrom('huge', 'Linear', ''), jsonish),
          fc.option(fc.array(fc.integer({ min: -2, max: 5000 }), { maxLength: 5 }), { nil: undefined }),
        )
        .map(([preset, shape]) => ({
          what: `preset ${JSON.stringify(preset)}`,
          body: { ...QUICK_JOB, student: { model: { preset, ...(shape ? { input_shape: shape } : {}) } } },
          expect: { field: /^\/student\/model\/(preset|input_shape)/, never: /layers|anyOf/ },
        })),
      fc
        .oneof(
          fc.string({ minLength: 201, maxLength: 3000 }),
          fc.integer(),
          jsonish.filter((v) => typeof v !== 'string'),
        )
        .map((id) => ({
          what: `teacher model_id ${JSON.stringify(id).slice(0, 40)}`,
          body: { ...QUICK_JOB, teacher: { model_id: id } },
          expect: { field: '/teacher/model_id', never: /required propert(y|ies) model\b|anyOf/ },
        })),
      fc
        .tuple(validLayers, fc.oneof(fc.constant({ from: 1, to: 'x' }), fc.constant({ from: -1, to: 2 }), fc.constant('hot'), fc.constant({ from: 1 })))
        .map(([layers, temperature]) => ({
          what: `temperature ${JSON.stringify(temperature)}`,
          body: { ...QUICK_JOB, student: { model: { layers } }, distillation: { temperature } },
          expect: { field: /^\/distillation\/temperature/, never: /anyOf/ },
        })),
    )
    .map(
      ({ what, body, expect }): Shaped => ({
        what,
        sent: { method: 'POST', path: '/v1/jobs', headers: json, body: JSON.stringify(body) },
        expect: { code: 'invalid_request', ...expect },
      }),
    );
  const overLong = fc
    .tuple(
      fc.constantFrom<[string[], number]>([['name'], 200], [['dataset', 'source'], 200], [['webhook', 'secret'], 256], [['metadata', 'k'], 512]),
      fc.integer({ min: 1, max: 5000 }),
    )
    .map(([[at, limit], extra]): Shaped => {
      const base =
        at[0] === 'webhook'
          ? { ...QUICK_JOB, webhook: { url: 'https://example.com/hook', secret: 'x' } }
          : at[0] === 'metadata'
            ? { ...QUICK_JOB, metadata: {} }
            : QUICK_JOB;
      const body = JSON.stringify(setAt(base, at, 'y'.repeat(limit + extra)));
      return {
        what: `${pointerOf(at)} of ${limit + extra} characters`,
        sent: { method: 'POST', path: '/v1/jobs', headers: json, body },
        expect: { code: 'invalid_request', field: pointerOf(at), message: new RegExp(`${limit} characters`) },
      };
    });
  return fc.oneof(deep, long, longString, prototypeKey, doubled, wrongBranch, overLong);
}

/** Percent-encodes the UTF-8 bytes of every character but the unreserved ones (a lone surrogate as U+FFFD's). */
function percentEncode(value: string): string {
  return value.replace(/[^A-Za-z0-9\-._~]/gu, bytesOf);
}

/** A string as it can stand unencoded in a request line: only what is outside printable ASCII (and # ?) is escaped. */
function rawSegment(value: string): string {
  return value.replace(/[^\x21-\x7e]|[#?]/gu, bytesOf);
}

const bytesOf = (c: string) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

// ------------------------------------------------------------------------------------------ transport

function rawRequest(host: { hostname: string; port: number }, sent: Sent): Promise<{ status: number; text: string; type: string }> {
  return new Promise((resolve, reject) => {
    const body = sent.body === undefined ? undefined : Buffer.from(sent.body, 'utf8');
    const req = httpRequest(
      {
        ...host,
        method: sent.method,
        path: sent.path,
        headers: { ...sent.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: 20_000,
        // A connection of its own: a reused keep-alive socket the server just closed would read as a failure.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', reject);
    req.end(body);
  });
}

interface UpgradeOutcome {
  status?: number;
  close?: number;
  messages: any[];
}

function tryUpgrade(url: string, headers: Record<string, string>): Promise<UpgradeOutcome> {
  return new Promise((resolve) => {
    const messages: any[] = [];
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, { headers });
    } catch {
      return resolve({ status: 400, messages }); // a URL the client itself refuses to send
    }
    const timer = setTimeout(() => {
      socket.terminate();
      resolve({ messages });
    }, 5000);
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    socket.on('error', () => {});
    socket.on('close', (code) => {
      clearTimeout(timer);
      resolve({ close: code, messages });
    });
    socket.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve({ status: res.statusCode, messages });
      socket.terminate();
    });
  });
}

/** A multipart POST of these parts, as sent by a form. */
function postMultipart(
  base: string,
  path: string,
  headers: Record<string, string>,
  parts: Array<{ name: string; filename?: string; content: string | Buffer }>,
) {
  const form = new FormData();
  for (const part of parts) {
    if (part.filename === undefined) form.append(part.name, String(part.content));
    else form.append(part.name, new Blob([typeof part.content === 'string' ? part.content : new Uint8Array(part.content)]), part.filename);
  }
  return fetch(`${base}${path}`, { method: 'POST', body: form, headers }).then(async (r) => ({ status: r.status, text: await r.text() }));
}

// ------------------------------------------------------------------------------------------ checks

/** Everything stored for a tenant, as plain data. */
async function tenantData(stack: Stack, tenant: string): Promise<unknown> {
  const { id: tenantId } = await stack.db.tenant.findUniqueOrThrow({ where: { name: tenant } });
  const jobs = await stack.db.job.findMany({ where: { tenantId }, orderBy: { id: 'asc' }, include: { events: { orderBy: { seq: 'asc' } }, artifacts: true } });
  const keys = await stack.db.idempotencyKey.findMany({ where: { tenantId }, orderBy: { key: 'asc' } });
  const apiKeys = await stack.db.apiKey.findMany({ where: { tenantId }, orderBy: { id: 'asc' } });
  const datasets = await stack.db.dataset.findMany({ where: { tenantId }, orderBy: { id: 'asc' } });
  const models = await stack.db.model.findMany({ where: { tenantId }, orderBy: { id: 'asc' } });
  const files: Record<string, number> = {};
  for (const [dir, rows] of [
    ['datasets', datasets],
    ['models', models],
  ] as const) {
    for (const { id } of rows) {
      for (const name of await readdir(join(stack.config.ARTIFACT_DIR, dir, id)))
        files[`${dir}/${id}/${name}`] = (await stat(join(stack.config.ARTIFACT_DIR, dir, id, name))).size;
    }
  }
  return JSON.parse(JSON.stringify({ jobs, keys, apiKeys, datasets, models, files }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** One line per kind of failure (route shape, status, why), with its shortest example. */
function report(failures: Failure[]): string[] {
  const groups = new Map<string, Failure>();
  for (const f of failures) {
    const shape = f.sent.path.split('?')[0]!.replace(/^\/v1\/(jobs|datasets|models)\/[^/]+/, '/v1/$1/{id}');
    const key = `${f.sent.method} ${shape} → ${f.why}`;
    const size = (x: Failure) => JSON.stringify(x.sent).length;
    const known = groups.get(key);
    if (!known || size(f) < size(known)) groups.set(key, f);
  }
  const cut = (text: string | undefined, max: number) => (text && text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text);
  return [...groups.entries()].map(
    ([key, f]) =>
      `${key}: e.g. ${JSON.stringify({ ...f.sent, path: cut(f.sent.path, 300), headers: { ...f.sent.headers, authorization: f.sent.headers.authorization?.replace(/dsk_\S+/, 'dsk_…') }, body: cut(f.sent.body, 300) })} → ${f.answer.slice(0, 160)}`,
  );
}
