/**
 * The second hostile review of issue 13, with cases the first did not try: each test is a class of
 * request that once broke the server, sent through the real server (HTTP and WebSocket).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/http.js';
import { rawHttp } from '../support/raw-http.js';
import { startStack, type Stack } from '../support/stack.js';
import { upgrade, type Upgrade } from '../support/ws.js';

type Open = Extract<Upgrade, { kind: 'open' }>;
const ANSWER_DEADLINE_MS = 30_000;

describe("hostile review: cases beyond the issue's examples", () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ workers: 0, env: { RATE_LIMIT_PER_MINUTE: '1000000' } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('a /v1/events subscribe naming a job id Postgres cannot hold (NUL, lone surrogate) is answered not_found, escaped, and the socket keeps working', async () => {
    const answer = await upgrade(`${stack.wsUrl}/v1/events`, { authorization: `Bearer ${stack.keys.a.key}` });
    assert.equal(answer.kind, 'open');
    const socket = answer as Open;
    const ids = ['job_\u0000', '\u0000\u0001', `job_${'\ud800'.repeat(26)}`, 'job_é\u2028'];
    for (const [i, id] of ids.entries()) {
      socket.send({ type: 'subscribe', job_id: id });
      // A marker after each: its answer proves the one before it was answered (or dropped) by then.
      socket.send({ type: 'unsubscribe', job_id: `marker-${i}` });
      await socket.waitFor((m) => m.type === 'unsubscribed' && m.job_id === `marker-${i}`, ANSWER_DEADLINE_MS);
    }
    const errors = socket.messages.filter((m) => m.type === 'error');
    assert.equal(errors.length, ids.length, JSON.stringify(socket.messages));
    for (const [i, error] of errors.entries()) {
      assert.equal(error.code, 'not_found');
      assert.equal(error.job_id, ids[i]);
      // The message quotes the id escaped: no control character or lone surrogate in what a person reads.
      assert.match(error.message, /^job "[\x20-\x7e]+" does not exist$/, error.message);
    }
    assert.equal(socket.socket.readyState, socket.socket.OPEN);
    socket.socket.close();
    assert.equal((await request(stack.url, 'GET', '/readyz')).status, 200);
  });
  test('the dashboard and docs files: a path leaving their folder, a Range past the end, a failed If-Match each answer a code of their own, in our words', async () => {
    const port = Number(new URL(stack.url).port);
    const cases: Array<[string, Record<string, string>, number, string]> = [];
    for (const folder of ['/assets', '/docs/static']) {
      for (const dotDot of ['%2e%2e', '%2E%2E', '..%2f..', '%2e%2e%2f%2e%2e', '.%2e', '%2e.'])
        cases.push([`${folder}/${dotDot}/${dotDot}/${dotDot}/${dotDot}/package.json`, {}, 404, 'route_not_found']);
    }
    cases.push(['/docs/static/swagger-ui.css', { range: 'bytes=999999999-' }, 416, 'range_not_satisfiable']);
    cases.push(['/docs/static/swagger-ui.css', { 'if-match': '"not-this-one"' }, 412, 'precondition_failed']);
    for (const [target, headers, status, code] of cases) {
      const where = `GET ${target} ${JSON.stringify(headers)}`;
      const answer = await rawHttp(port, 'GET', target, headers);
      assert.equal(answer.status, status, `${where}: ${answer.status} ${answer.text.slice(0, 200)}`);
      assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/, where);
      const body = JSON.parse(answer.text);
      assert.equal(body.code, code, where);
      assert.equal(body.status, status, where);
      // A sentence of ours, not the dependency's reason phrase, and no file's contents.
      assert.ok(body.detail.length > 30 && body.detail !== body.title, `${where}: ${body.detail}`);
      assert.doesNotMatch(answer.text, /"dependencies"|"devDependencies"/, where);
    }
  });
  test('an x-request-id that is not plain printable ASCII (spaces, tabs, control or non-ASCII characters, over 128) is replaced by a fresh id, never logged as sent', async () => {
    for (const sent of ['spaced id', 'tab\tid', 'caf\u00e9', 'x'.repeat(129), 'line"}{"level":60']) {
      const answer = await rawHttp(Number(new URL(stack.url).port), 'GET', '/healthz', { 'x-request-id': sent });
      assert.equal(answer.status, 200, `${JSON.stringify(sent)}: ${answer.text.slice(0, 200)}`);
      const echoed = answer.headers['x-request-id'];
      assert.ok(echoed, JSON.stringify(answer.headers));
      if (sent === 'line"}{"level":60') assert.equal(echoed, sent, 'printable ASCII is kept');
      else assert.match(echoed, /^[0-9a-f-]{36}$/, `${JSON.stringify(sent)} was echoed as ${echoed}`);
    }
  });

  test('a conv or pooling stride past its input is refused at submit naming the field (it crashed training, retried three times)', async () => {
    const job = (layer: Record<string, unknown>) => ({
      dataset: { source: 'builtin:synthetic', options: { samples: 100, classes: 4, shape: [8, 8, 1] } },
      teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 1 } },
      student: { model: { input_shape: [8, 8, 1], layers: [layer, { type: 'flatten' }, { type: 'dense', units: 4 }] }, training: { epochs: 1 } },
    });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 'conv2d', filters: 8, kernel_size: 3, strides: 1_000_000 }, '/student/model/layers/0/strides'],
      [{ type: 'conv2d', filters: 8, kernel_size: 3, strides: [9, 1] }, '/student/model/layers/0/strides'],
      [{ type: 'conv2d', filters: 8, kernel_size: 3, strides: [1, 9], padding: 'same' }, '/student/model/layers/0/strides'],
      [{ type: 'maxPooling2d', pool_size: 2, strides: 64 }, '/student/model/layers/0/strides'],
      [{ type: 'averagePooling2d', pool_size: 100, padding: 'same' }, '/student/model/layers/0/pool_size'],
    ];
    for (const [layer, field] of cases) {
      const answer = await request(stack.url, 'POST', '/v1/jobs', job(layer));
      assert.equal(answer.status, 400, `${JSON.stringify(layer)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.code, 'invalid_request');
      assert.equal(answer.body.errors[0].field, field, JSON.stringify(answer.body));
      assert.match(answer.body.errors[0].message, /strides \d+×\d+ are larger than the 8×8 input of layer 0/);
    }
    // A stride as large as the input is still a model.
    assert.equal((await request(stack.url, 'POST', '/v1/jobs', job({ type: 'conv2d', filters: 8, kernel_size: 3, strides: 8 }))).status, 201);
  });
});

describe('hostile review: behind a reverse proxy (TRUST_PROXY), one client spending the refusal budget locks out only itself', () => {
  let stack: Stack;
  const BUDGET = 5;

  before(async () => {
    stack = await startStack({ workers: 0, env: { TRUST_PROXY: '127.0.0.1', UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE: String(BUDGET) } });
  });
  after(async () => {
    await stack?.stop();
  });

  test('wrong keys from one forwarded client get 429; another client through the same proxy is served', async () => {
    const wrong = { authorization: `Bearer dsk_${'x'.repeat(43)}`, 'x-forwarded-for': '203.0.113.7' };
    const statuses: number[] = [];
    for (let i = 0; i < BUDGET + 3; i++) statuses.push((await request(stack.url, 'GET', '/v1/jobs', undefined, wrong)).status);
    assert.equal(statuses[0], 401);
    assert.equal(statuses.at(-1), 429, statuses.join(','));
    const other = await request(stack.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${stack.keys.b.key}`, 'x-forwarded-for': '203.0.113.8' });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    // The proxy's own address (no X-Forwarded-For) is another client too.
    assert.equal((await request(stack.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${stack.keys.a.key}` })).status, 200);
  });
});
