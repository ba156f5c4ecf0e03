/**
 * Traffic refused before the tenant is known, and the 503s (issue 13, item 5). Refusals (no key, a wrong
 * key or ticket, a foreign Origin) are counted per client address against UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE,
 * shared through Redis by every API process; over it, the address gets 429 with Retry-After and its keys
 * are no longer looked up in Postgres. Every 503 carries Retry-After and a detail a person can act on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { REDIS_URL } from '../support/env.js';
import { request, waitFor, type Response } from '../support/http.js';
import { Contract } from '../support/openapi.js';
import { rawHttp, rawUpgrade, type RawAnswer } from '../support/raw-http.js';
import { startStack, type Stack } from '../support/stack.js';

const contract = new Contract();
const BUDGET = 5;
/** Tenant b's requests per minute (tenant a's few valid requests here stay far below it). */
const TENANT_LIMIT = 12;
const UNKNOWN_KEY = `dsk_${'A'.repeat(43)}`;
/** Another client address: Linux routes all of 127.0.0.0/8 to the loopback interface. */
const OTHER_ADDRESS = '127.0.0.2';

/** A counter of this API process, from its /metrics (lines `name{process="api-…",label="…"} value`), summed. */
async function counter(base: string, name: string, label = ''): Promise<number> {
  const text = (await request(base, 'GET', '/metrics', undefined, { authorization: '' })).body as string;
  const lines = text.split('\n').filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(label));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

const assertThrottled = (answer: RawAnswer, where: string) => {
  assert.equal(answer.status, 429, `${where}: ${answer.status} ${answer.text.slice(0, 300)}`);
  const retryAfter = Number(answer.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `${where}: Retry-After ${answer.headers['retry-after']}`);
  const body = JSON.parse(answer.text);
  assert.equal(body.code, 'rate_limited', where);
  assert.equal(body.retry_after, retryAfter, where);
  assert.match(body.detail, /refused.*retry in \d+ s/, where);
};

describe('requests refused before the tenant is known: a budget per client address', () => {
  let stack: Stack;
  let port: number;

  before(async () => {
    stack = await startStack({ workers: 0, env: { UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE: String(BUDGET), RATE_LIMIT_PER_MINUTE: String(TENANT_LIMIT) } });
    port = Number(new URL(stack.url).port);
  });
  after(() => stack?.stop());

  test('past the budget: 429 with Retry-After and no key lookup, even for a valid key; other addresses and public routes unaffected', async () => {
    const lookups = await counter(stack.url, 'distill_api_key_lookups_total');
    for (let i = 0; i < BUDGET; i++) {
      const refused = await rawHttp(port, 'GET', '/v1/jobs', { authorization: `Bearer ${UNKNOWN_KEY}` });
      assert.equal(refused.status, 401, `refusal ${i + 1} of ${BUDGET}`);
    }
    // A refusal of any kind counts (here: no key at all).
    assertThrottled(await rawHttp(port, 'GET', '/v1/jobs'), 'the refusal past the budget');
    assert.equal(await counter(stack.url, 'distill_api_key_lookups_total'), lookups + BUDGET, 'one lookup per well-formed key');

    // Many more, in parallel: none reaches Postgres.
    const flood = await Promise.all(Array.from({ length: 200 }, () => rawHttp(port, 'GET', '/v1/jobs', { authorization: `Bearer ${UNKNOWN_KEY}` })));
    flood.forEach((answer, i) => assertThrottled(answer, `flood request ${i}`));
    const ownKey = { authorization: `Bearer ${stack.keys.a.key}` };
    assertThrottled(await rawHttp(port, 'GET', '/v1/jobs', ownKey), 'a valid key from the same address (its lookup would cost the same)');
    assertThrottled(await rawHttp(port, 'POST', '/v1/ws-tickets', ownKey), 'a ticket from the same address');
    assertThrottled(await rawUpgrade(port, '/v1/events', ownKey), 'a WebSocket upgrade from the same address');
    assertThrottled(await rawHttp(port, 'GET', '/%761/jobs', { authorization: `Bearer ${UNKNOWN_KEY}` }), 'another spelling of the path');
    assert.equal(await counter(stack.url, 'distill_api_key_lookups_total'), lookups + BUDGET, 'no key was looked up past the budget');
    assert.ok((await counter(stack.url, 'distill_auth_refusals_total', 'outcome="throttled"')) >= 200);

    // The health probes, docs and metrics need no key and are not refused.
    for (const path of ['/healthz', '/readyz', '/openapi.yaml']) assert.equal((await rawHttp(port, 'GET', path)).status, 200, path);
    // Another address has its own budget.
    const other = await rawHttp(port, 'GET', '/v1/jobs', ownKey, '', OTHER_ADDRESS);
    assert.equal(other.status, 200, `another address with a valid key: ${other.text.slice(0, 200)}`);
    assert.equal((await rawHttp(port, 'GET', '/v1/jobs', { authorization: `Bearer ${UNKNOWN_KEY}` }, '', OTHER_ADDRESS)).status, 401);

    // The 429 is documented.
    const documented = await request(stack.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${UNKNOWN_KEY}` });
    assert.equal(documented.status, 429);
    contract.checkResponse('GET', '/v1/jobs', documented);
  });

  test('the count is shared through Redis: another API process refuses the address too', async () => {
    const address = '127.0.0.3';
    const wrong = { authorization: `Bearer ${UNKNOWN_KEY}` };
    for (let i = 0; i < BUDGET; i++) assert.equal((await rawHttp(port, 'GET', '/v1/jobs', wrong, '', address)).status, 401);
    const second = await startServer(stack.config, pino({ level: 'silent' }));
    try {
      const secondPort = Number(new URL(second.url).port);
      // Its first refusal of the address finds the shared count over budget; from then on it answers from memory.
      assertThrottled(await rawHttp(secondPort, 'GET', '/v1/jobs', wrong, '', address), 'the second process');
      const lookups = await counter(second.url, 'distill_api_key_lookups_total');
      for (let i = 0; i < 20; i++) assertThrottled(await rawHttp(secondPort, 'GET', '/v1/jobs', wrong, '', address), `second process, request ${i}`);
      assertThrottled(
        await rawHttp(secondPort, 'GET', '/v1/jobs', { authorization: `Bearer ${stack.keys.a.key}` }, '', address),
        'the second process, a valid key',
      );
      assert.equal(await counter(second.url, 'distill_api_key_lookups_total'), lookups, 'the second process looked up no more keys');
    } finally {
      await second.close();
    }
  });

  test("the tenant's request limit counts every spelling of a path (it is decided on the matched route too)", async () => {
    const address = '127.0.0.4';
    const ownKey = { authorization: `Bearer ${stack.keys.b.key}` };
    const host = new URL(stack.url).host;
    const spellings = ['/v1/jobs', '/%761/jobs', `http://${host}/v1/jobs`, `http://${host}/%76%31/%6aobs`];
    for (let i = 0; i < TENANT_LIMIT; i++) {
      const answer = await rawHttp(port, 'GET', spellings[i % spellings.length]!, ownKey, '', address);
      assert.equal(answer.status, 200, `request ${i + 1} of ${TENANT_LIMIT}: ${answer.text.slice(0, 200)}`);
    }
    for (const target of spellings) {
      const answer = await rawHttp(port, 'GET', target, ownKey, '', address);
      assert.equal(answer.status, 429, target);
      assert.equal(answer.headers['x-ratelimit-limit'], String(TENANT_LIMIT), target);
    }
  });
});

describe('503: Retry-After and a detail a person can read', () => {
  let stack: Stack;

  before(async () => {
    // A bound of 1 ms: the test blocks this process's event loop (the API runs in it) until the API sheds load.
    stack = await startStack({ workers: 0, env: { MAX_EVENT_LOOP_DELAY_MS: '1' } });
  });
  after(() => stack?.stop());

  test('overloaded: 503 with Retry-After, retry_after and a readable detail, as openapi.yaml documents', async () => {
    const shed = await waitFor(
      'the API to shed load while its event loop lags',
      async () => {
        const until = Date.now() + 400;
        while (Date.now() < until); // keep the event loop busy: the lag the API measures
        const answer = await request(stack.url, 'GET', '/v1/jobs');
        return answer.status === 503 ? answer : undefined;
      },
      120_000,
      50,
    );
    assertRetryAfter(shed, 'overloaded', 5);
    assert.match(
      shed.body.detail,
      /^the server is too busy to take this request: (it is \d+ ms behind on its work|it has been too busy to measure how far behind its work is) \(more than the 1 ms it allows\); nothing was done, retry in 5 s$/,
    );
    contract.checkResponse('GET', '/v1/jobs', shed);
  });
});

describe('503 when a dependency is down: Retry-After too', () => {
  test('Postgres unreachable: database_unavailable and /readyz dependency_unavailable carry Retry-After', async () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/distill',
      REDIS_URL,
      PORT: '0',
      LOG_LEVEL: 'silent',
      MAX_EVENT_LOOP_DELAY_MS: '0',
      QUEUE_NAME: `t${Date.now()}`,
    });
    const server = await startServer(config, pino({ level: 'silent' }));
    try {
      const answer = await request(server.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${UNKNOWN_KEY}` });
      assertRetryAfter(answer, 'database_unavailable', 5);
      assert.match(answer.body.detail, /database cannot be reached.*retry in 5 s/);
      contract.checkResponse('GET', '/v1/jobs', answer);
      const ready = await request(server.url, 'GET', '/readyz');
      assertRetryAfter(ready, 'dependency_unavailable', 5);
      contract.checkResponse('GET', '/readyz', ready);
    } finally {
      await server.close();
    }
  });
});

function assertRetryAfter(answer: Response, code: string, seconds: number): void {
  assert.equal(answer.status, 503, JSON.stringify(answer.body));
  assert.equal(answer.body.code, code);
  assert.equal(answer.headers.get('retry-after'), String(seconds));
  assert.equal(answer.body.retry_after, seconds);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
}
