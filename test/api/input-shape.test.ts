/**
 * Input shape before content (issue 13, items 4 and 7): a JSON body's depth, array and object sizes and
 * string lengths are bounded by the parser, on every route that reads a body, whatever headers come with
 * it; refused keys, doubled query parameters and values that match no branch of a union get an error a
 * person can act on; a client that hangs up mid-request is not the server's error.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { request, type Response } from '../support/http.js';
import { Contract } from '../support/openapi.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const contract = new Contract();
const DEPTH = 32;
const ITEMS = 1000;
const STRING = 65_536;

function assertProblem(answer: Response, status: number, code: string, where: string): void {
  assert.equal(answer.status, status, `${where}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/, where);
  assert.equal(answer.body.code, code, `${where}: ${answer.body.detail}`);
}

/** Nested `[…]`, `{"a":…}` or alternating, `levels` deep around `inner`. */
function nested(levels: number, kind: 'array' | 'object' | 'mixed', inner = '1'): { text: string; pointer: string } {
  let open = '';
  let close = '';
  const pointer: string[] = [];
  for (let i = 0; i < levels; i++) {
    const array = kind === 'array' || (kind === 'mixed' && i % 2 === 0);
    open += array ? '[' : '{"a/b":';
    close = (array ? ']' : '}') + close;
    if (pointer.length < DEPTH) pointer.push(array ? '0' : 'a~1b');
  }
  return { text: open + inner + close, pointer: `/${pointer.join('/')}` };
}

describe('input shape and actionable errors', () => {
  let stack: Stack;
  let jobId: string;
  before(async () => {
    stack = await startStack({ workers: 0 });
    const job = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    assert.equal(job.status, 201);
    jobId = job.body.id;
  });
  after(() => stack?.stop());

  /** Every documented operation that may carry a body, with its path filled in. */
  const bodyRoutes = () =>
    contract
      .operations()
      .filter((o) => ['post', 'put', 'patch', 'delete'].includes(o.method))
      .map((o) => ({ method: o.method.toUpperCase(), path: o.path.replace('{id}', o.path.startsWith('/v1/jobs') ? jobId : 'ds_00000000000000000000000000') }));

  test('a deep, wide or long JSON body answers 400 json_too_complex naming the pointer and the limit, on every route, with or without Idempotency-Key', async () => {
    const routes = bodyRoutes();
    assert.ok(routes.length >= 5, `body routes found: ${routes.map((r) => r.path)}`);
    const deepArray = nested(20_000, 'array');
    const deepObject = nested(5_000, 'object');
    const mixed = nested(DEPTH + 1, 'mixed');
    const cases: Array<{ what: string; body: string; field: string; limit: number }> = [
      { what: '20,000 nested arrays', body: deepArray.text, field: deepArray.pointer, limit: DEPTH },
      { what: '5,000 nested objects', body: deepObject.text, field: deepObject.pointer, limit: DEPTH },
      { what: `${DEPTH + 1} levels, arrays and objects`, body: mixed.text, field: mixed.pointer, limit: DEPTH },
      {
        what: 'deep inside a job body',
        body: JSON.stringify({ ...QUICK_JOB, metadata: { k: 'PLACE' } }).replace('"PLACE"', nested(40, 'array').text),
        field: `/metadata/k/${Array(DEPTH - 2)
          .fill('0')
          .join('/')}`,
        limit: DEPTH,
      },
      {
        what: 'a long array',
        body: JSON.stringify({ ...QUICK_JOB, student: { model: { layers: Array(ITEMS + 5).fill({ type: 'flatten' }) } } }),
        field: `/student/model/layers/${ITEMS}`,
        limit: ITEMS,
      },
      {
        what: 'an object of many keys',
        body: JSON.stringify({ metadata: Object.fromEntries(Array.from({ length: ITEMS + 1 }, (_, i) => [`k${i}`, 'v'])) }),
        field: `/metadata/k${ITEMS}`,
        limit: ITEMS,
      },
      { what: 'a long string', body: JSON.stringify({ name: 'x'.repeat(STRING + 1) }), field: '/name', limit: STRING },
    ];
    for (const route of routes) {
      for (const c of cases) {
        for (const headers of [{}, { 'idempotency-key': `shape-${c.what}` }] as Array<Record<string, string>>) {
          const where = `${route.method} ${route.path} (${c.what}${'idempotency-key' in headers ? ', Idempotency-Key' : ''})`;
          const answer = await request(stack.url, route.method, route.path, c.body, { 'content-type': 'application/json', ...headers });
          if (route.path === '/v1/ws-tickets' && c.body.length > 1024) {
            assertProblem(answer, 413, 'body_too_large', where); // this route reads at most 1 KiB
            continue;
          }
          assertProblem(answer, 400, 'json_too_complex', where);
          assert.equal(answer.body.errors?.[0]?.field, c.field, where);
          assert.match(answer.body.detail, new RegExp(`^${c.field.replace(/[/~]/g, '\\$&')}: .*limit is ${c.limit}\\b`), where);
        }
      }
    }
    // Within the limits, the body is read and judged on its content.
    const fits = JSON.stringify({ ...QUICK_JOB, metadata: { k: 'PLACE' } }).replace('"PLACE"', nested(DEPTH - 2, 'array').text);
    const answer = await request(stack.url, 'POST', '/v1/jobs', fits, { 'idempotency-key': 'shape-fits' });
    assertProblem(answer, 400, 'invalid_request', 'a body at the depth limit');
    assert.equal(answer.body.errors[0].field, '/metadata/k');
  });

  test('__proto__ anywhere and constructor.prototype are refused as keys, naming the field and why', async () => {
    for (const route of bodyRoutes()) {
      for (const [body, field] of [
        ['{"__proto__":{"admin":true}}', '/__proto__'],
        [`{"name":"x","metadata":{"__proto__":"v"}}`, '/metadata/__proto__'],
        ['{"a":[1,{"\\u005f_proto__":{}}]}', '/a/1/__proto__'],
        ['{"constructor":{"prototype":{"admin":true}}}', '/constructor/prototype'],
      ] as const) {
        const where = `${route.method} ${route.path} ${body}`;
        const answer = await request(stack.url, route.method, route.path, body, { 'content-type': 'application/json' });
        assertProblem(answer, 400, 'invalid_request', where);
        assert.equal(answer.body.errors[0].field, field, where);
        assert.match(answer.body.errors[0].message, /not accepted.*prototype/, where);
        assert.doesNotMatch(answer.body.detail, /not valid JSON/, where);
      }
    }
    // `constructor` alone is an ordinary key (here: an unknown field of a job).
    const plain = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, metadata: { constructor: 'v' } });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
  });

  test('a query parameter given twice says so, naming it, on every route', async () => {
    for (const o of contract.operations()) {
      const path = o.path.replace('{id}', jobId).replace('{kind}', 'student').replace('{file}', 'model.json');
      for (const name of ['limit', 'after', 'x']) {
        const where = `${o.method} ${path}?${name}=1&${name}=2`;
        const answer = await request(stack.url, o.method.toUpperCase(), `${path}?${name}=1&${name}=2`);
        if (o.method === 'get' && o.path === '/v1/events') {
          assert.ok([400, 426].includes(answer.status), where); // a WebSocket route: refused before it reads a query
          continue;
        }
        if (answer.status === 401 || o.method === 'head') continue;
        assertProblem(answer, 400, 'invalid_request', where);
        assert.equal(answer.body.errors[0].field, `querystring:/${name}`, where);
        assert.match(answer.body.errors[0].message, /given 2 times/, where);
      }
    }
  });

  test('a value matching no branch of a union is judged by the branch it was trying, and every message names its limit', async () => {
    const layers = (n: number) => Array.from({ length: n }, () => ({ type: 'dense', units: 4 }));
    const cases: Array<[string, unknown, string, RegExp]> = [
      ['65 layers', { ...QUICK_JOB, student: { model: { layers: layers(65) } } }, '/student/model/layers', /at most 64 items/],
      ['a bad layer field', { ...QUICK_JOB, student: { model: { layers: [{ type: 'dense', units: 0 }] } } }, '/student/model/layers/0/units', />= 1/],
      [
        'a layer of a missing field',
        { ...QUICK_JOB, student: { model: { layers: [{ type: 'conv2d', filters: 2 }] } } },
        '/student/model/layers/0/kernel_size',
        /required property kernel_size/,
      ],
      [
        'a layer without its type',
        { ...QUICK_JOB, student: { model: { layers: [{ units: 4 }] } } },
        '/student/model/layers/0/type',
        /required property type \(one of "dense"/,
      ],
      [
        'an unknown layer type',
        { ...QUICK_JOB, student: { model: { layers: [{ type: 'lstm', units: 4 }] } } },
        '/student/model/layers/0/type',
        /one of "dense", "conv2d", "maxPooling2d", "averagePooling2d", "flatten", "dropout", "batchNormalization", "activation"/,
      ],
      [
        'a kernel size of the wrong type',
        { ...QUICK_JOB, student: { model: { layers: [{ type: 'conv2d', filters: 2, kernel_size: 'big' }] } } },
        '/student/model/layers/0/kernel_size',
        /an integer or an array/,
      ],
      ['an unknown preset', { ...QUICK_JOB, student: { model: { preset: 'huge' } } }, '/student/model/preset', /one of "hinton-teacher"/],
      ['a model with neither', { ...QUICK_JOB, student: { model: {} } }, '/student/model', /preset, layers/],
      [
        'a model with both',
        { ...QUICK_JOB, student: { model: { preset: 'linear', layers: layers(2) } } },
        '/student/model',
        /either preset or layers, not both/,
      ],
      [
        'a teacher with both',
        { ...QUICK_JOB, teacher: { model: { preset: 'mlp-tiny' }, model_id: 'mdl_00000000000000000000000000' } },
        '/teacher',
        /either model or model_id, not both/,
      ],
      ['a long model_id', { ...QUICK_JOB, teacher: { model_id: 'x'.repeat(201) } }, '/teacher/model_id', /at most 200 characters/],
      ['a teacher model that is wrong', { ...QUICK_JOB, teacher: { model: { layers: layers(65) } } }, '/teacher/model/layers', /at most 64 items/],
      ['a teacher in teachers', { ...QUICK_JOB, teacher: undefined, teachers: [{ model_id: 7 }] }, '/teachers/0/model_id', /must be a string/],
      ['a schedule', { ...QUICK_JOB, distillation: { temperature: { from: 2, to: 'x' } } }, '/distillation/temperature/to', /must be a number/],
      ['a schedule of the wrong type', { ...QUICK_JOB, distillation: { alpha: 'high' } }, '/distillation/alpha', /a number or an object/],
      ['a long dataset source', { ...QUICK_JOB, dataset: { source: 'x'.repeat(201) } }, '/dataset/source', /at most 200 characters/],
      ['a long name', { ...QUICK_JOB, name: 'x'.repeat(201) }, '/name', /200 characters/],
      ['a priority', { ...QUICK_JOB, priority: 'urgent' }, '/priority', /one of "low", "normal", "high"/],
      ['a runtime', { ...QUICK_JOB, max_runtime_seconds: 10 ** 9 }, '/max_runtime_seconds', /<= 604800/],
      ['a runtime of the wrong type', { ...QUICK_JOB, max_runtime_seconds: '60' }, '/max_runtime_seconds', /must be an integer/],
      [
        'epochs of the wrong type',
        { ...QUICK_JOB, student: { ...QUICK_JOB.student, training: { epochs: 'many' } } },
        '/student/training/epochs',
        /must be an integer/,
      ],
      ['a long metadata key', { ...QUICK_JOB, metadata: { ['k'.repeat(65)]: 'v' } }, `/metadata/${'k'.repeat(65)}`, /64 characters/],
      [
        'many metadata keys',
        { ...QUICK_JOB, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
        '/metadata',
        /16 properties/,
      ],
    ];
    for (const [what, body, field, message] of cases) {
      const answer = await request(stack.url, 'POST', '/v1/jobs', body);
      assertProblem(answer, 400, 'invalid_request', what);
      const first = answer.body.errors[0];
      assert.equal(first.field, field, `${what}: ${JSON.stringify(answer.body.errors)}`);
      assert.match(first.message, message, what);
      for (const e of answer.body.errors)
        assert.doesNotMatch(
          e.message,
          /anyOf|must have required propert(y|ies) (preset|model\b|model_id)|additional properties: (layers|preset|model_id|model)\b/,
          `${what}: ${e.field} ${e.message}`,
        );
    }
  });
});

describe('a client that hangs up mid-request', () => {
  let stack: Stack;
  let server: RunningServer;
  const lines: Array<Record<string, any>> = [];
  before(async () => {
    stack = await startStack({ workers: 0 });
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    server = await startServer(stack.config, pino({ level: 'debug' }, sink));
  });
  after(async () => {
    await server?.close();
    await stack?.stop();
  });

  test('is logged at debug, never as an error nor as a 500 in the access log', async () => {
    const { port } = new URL(server.url);
    const partial: Array<[string, string, string]> = [
      ['/v1/jobs', 'application/json', '{"name":"cut'],
      ['/v1/jobs/job_00000000000000000000000000/cancel', 'application/json', '{"a":'],
      ['/v1/datasets', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="csv"; filename="a.csv"\r\n\r\nf,label\n1,a\n'],
      ['/v1/models', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="model.json"; filename="model.json"\r\n\r\n{"format":'],
    ];
    for (const [path, type, body] of partial) {
      const socket = connect(Number(port), '127.0.0.1');
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const before = lines.length;
      let incoming: IncomingMessage | undefined;
      server.app.server.once('request', (req: IncomingMessage) => (incoming = req));
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${stack.keys.a.key}\r\nContent-Type: ${type}\r\nContent-Length: 100000\r\n\r\n${body}`,
      );
      // Hang up once the server reads the body (past auth, in its body parser).
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(incoming && incoming.listenerCount('data') > 0)) await new Promise((r) => setTimeout(r, 10));
      assert.ok(incoming && incoming.listenerCount('data') > 0, `${path}: the server began to read the body`);
      socket.destroy();
      while (Date.now() < deadline && !lines.slice(before).some((l) => l.msg === 'client closed the connection')) await new Promise((r) => setTimeout(r, 20));
      assert.ok(
        lines.slice(before).some((l) => l.msg === 'client closed the connection' && l.level === 20),
        `${path}: the abort was seen (${JSON.stringify(lines.slice(before))})`,
      );
    }
    // The server is still fine, and nothing was logged as an error or answered as a 5xx.
    assert.equal((await request(server.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${stack.keys.a.key}` })).status, 200);
    assert.deepEqual(
      lines.filter((l) => l.level >= 50 || (l.msg === 'request' && l.status >= 500)),
      [],
    );
  });
});
