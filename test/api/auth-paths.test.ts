/**
 * Authentication is decided on the route that runs (issue 13, item 1): every operation in openapi.yaml that
 * needs a key, reached by any spelling of its path the router accepts (percent-escapes, escaped slashes,
 * absolute-form targets, duplicate slashes, trailing dots, other case), without a key answers 401, or 400/404
 * when the spelling reaches no route: never 2xx, never 5xx, never a 101 upgrade. Public routes stay public.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/ids.js';
import { request } from '../support/http.js';
import { Contract, type Operation } from '../support/openapi.js';
import { rawHttp, rawUpgrade, type RawAnswer } from '../support/raw-http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { registeredRoutes } from '../support/routes.js';

const contract = new Contract();
const BOGUS_TICKET = `wst_${'A'.repeat(32)}`;

/** `%76` for `v`: one character as a percent-escape. */
const percentEscape = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Ways to spell one path (a concrete `/v1/...` path) that a router might take for it. */
function spellings(path: string, host: string): Array<[string, string]> {
  const segments = path.split('/').slice(1);
  const firstEscaped = `/${segments.map((s) => percentEscape(s[0]!) + s.slice(1)).join('/')}`;
  return [
    ['as documented', path],
    ['a letter of each segment escaped', firstEscaped],
    ['every character escaped', `/${segments.map((s) => [...s].map(percentEscape).join('')).join('/')}`],
    ['upper-case escapes', `/${segments.map((s) => [...s].map((c) => percentEscape(c).toUpperCase()).join('')).join('/')}`],
    ['escaped slashes', `/${segments.join('%2F')}`],
    ['escaped slashes, lower case', `/${segments.join('%2f')}`],
    ['the first slash escaped', `%2F${path.slice(1)}`],
    ['double-escaped', `/%2576${path.slice(2)}`],
    ['absolute form', `http://${host}${path}`],
    ['absolute form, escaped', `http://${host}${firstEscaped}`],
    ['absolute form, another host', `http://evil.example${path}`],
    ['absolute form, https', `https://${host}${path}`],
    ['absolute form, upper-case scheme', `HTTP://${host}${path}`],
    ['a duplicate leading slash', `/${path}`],
    ['a duplicate inner slash', path.replace('/v1/', '/v1//')],
    ['a trailing slash', `${path}/`],
    ['a trailing dot', `${path}.`],
    ['a dot after v1', path.replace('/v1/', '/v1./')],
    ['a dot segment', path.replace('/v1/', '/v1/./')],
    ['a dot-dot segment', `/x/..${path}`],
    ['escaped dot segments', `/x/%2e%2e${path}`],
    ['upper case', path.toUpperCase()],
    ['mixed case', path.replace('/v1/', '/V1/')],
    ['a semicolon parameter', `${path};x=1`],
    ['a query string', `${path}?x=1`],
    ['an escaped backslash', path.replace('/v1/', '/v1%5C')],
    ['an escaped NUL', `${path}%00`],
  ];
}

describe('authentication on the matched route, whatever the spelling of the path', () => {
  let stack: Stack;
  let port: number;
  let host: string;
  let jobId: string;
  const before_ = { jobs: 0, datasets: 0, models: 0, tickets: 0 };

  const counts = async () => ({
    jobs: await stack.db.job.count(),
    datasets: await stack.db.dataset.count(),
    models: await stack.db.model.count(),
    tickets: (await stack.redis.keys(`${stack.config.QUEUE_NAME}*ws-ticket*`)).length,
  });

  before(async () => {
    // A budget for refused requests far above what this file sends: here every refusal must be a 401.
    stack = await startStack({ workers: 0, env: { UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE: '1000000' } });
    const url = new URL(stack.url);
    port = Number(url.port);
    host = url.host;
    // A real job of tenant a: a route reached without a caller would have something to show or cancel.
    const job = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    assert.equal(job.status, 201, JSON.stringify(job.body));
    jobId = job.body.id;
    Object.assign(before_, await counts());
  });
  after(() => stack?.stop());

  /** A concrete path for an operation's template: tenant a's job, well-formed ids otherwise. */
  const concrete = (template: string) =>
    template
      .replace('/jobs/{id}', `/jobs/${jobId}`)
      .replace('/datasets/{id}', `/datasets/${newId('ds')}`)
      .replace('/models/{id}/{file}', `/models/${newId('mdl')}/model.json`)
      .replace('/models/{id}', `/models/${newId('mdl')}`)
      .replace('{kind}/{file}', 'student/model.json');

  const protectedOperations = () => contract.operations().filter(({ method, path }) => Object.keys(contract.securitySchemes(method, path)).length > 0);

  const assertRefused = (answer: RawAnswer, where: string, allowed: number[]) => {
    assert.ok(allowed.includes(answer.status), `${where}: ${answer.status} ${answer.text.slice(0, 300)}`);
    assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/, where);
  };

  test('every documented operation needs a key (only the health probes and /metrics are public)', () => {
    const open = contract.operations().filter(({ method, path }) => Object.keys(contract.securitySchemes(method, path)).length === 0);
    assert.deepEqual(open.map(({ method, path }) => `${method} ${path}`).sort(), ['get /healthz', 'get /metrics', 'get /readyz']);
    assert.ok(protectedOperations().length >= 14, 'the walk below covers every /v1 operation');
  });

  test('over HTTP, no key: 401 on the route the router picks, 400/404 where it picks none; never 2xx or 5xx', async () => {
    const routed = new Map<string, Set<string>>();
    for (const { method, path } of protectedOperations()) {
      const body = method === 'post' ? '{}' : '';
      const headers: Record<string, string> = body ? { 'content-type': 'application/json' } : {};
      for (const [what, target] of spellings(concrete(path), host)) {
        const where = `${method.toUpperCase()} ${target} (${path}, ${what})`;
        const answer = await rawHttp(port, method.toUpperCase(), target, headers, body);
        assertRefused(answer, where, [400, 401, 404]);
        if (answer.status === 401) {
          assert.equal(JSON.parse(answer.text).code, 'unauthorized', where);
          routed.set(path, (routed.get(path) ?? new Set()).add(what));
        }
        // A wrong key is refused the same way.
        const wrong = await rawHttp(port, method.toUpperCase(), target, { ...headers, authorization: `Bearer dsk_${'B'.repeat(43)}` }, body);
        assertRefused(wrong, `${where} with an unknown key`, [400, 401, 404]);
      }
    }
    // The walk reached the handlers' routes through other spellings, not only 404s.
    for (const { path } of protectedOperations()) {
      const spelled = routed.get(path) ?? new Set();
      for (const what of ['as documented', 'a letter of each segment escaped', 'absolute form', 'absolute form, escaped']) {
        assert.ok(spelled.has(what), `${path} spelled "${what}" reached its route and answered 401`);
      }
    }
    assert.deepEqual(await counts(), before_, 'nothing was created, cancelled or deleted and no ticket was minted');
    assert.equal((await stack.db.job.findUniqueOrThrow({ where: { id: jobId } })).status, 'queued', 'the job was not cancelled');
  });

  test('the spellings the router accepts reach the same route with a key (the walk above exercised real routes)', async () => {
    for (const target of ['/%761/jobs', `http://${host}/v1/jobs`, `http://${host}/%76%31/%6aobs`]) {
      const answer = await rawHttp(port, 'GET', target, { authorization: `Bearer ${stack.keys.a.key}` });
      assert.equal(answer.status, 200, `${target}: ${answer.text.slice(0, 200)}`);
      assert.equal(JSON.parse(answer.text).object, 'list');
    }
  });

  test('WebSocket upgrades, no key (also with a foreign Origin, a bogus ticket): refused before the upgrade, never 101', async () => {
    const sockets = protectedOperations().filter(({ operation }) => (operation as Operation)['x-websocket']);
    assert.deepEqual(sockets.map((s) => s.path).sort(), ['/v1/events', '/v1/jobs/{id}/events']);
    for (const { path } of sockets) {
      let routed = 0;
      for (const [what, target] of spellings(concrete(path), host)) {
        const separator = target.includes('?') ? '&' : '?';
        for (const [how, url, headers] of [
          ['no key', target, {}],
          ['a foreign Origin', target, { origin: 'https://evil.example' }],
          ['a bogus ticket', `${target}${separator}ticket=${BOGUS_TICKET}`, {}],
          ['an unknown key', target, { authorization: `Bearer dsk_${'C'.repeat(43)}` }],
        ] as Array<[string, string, Record<string, string>]>) {
          const answer = await rawUpgrade(port, url, headers);
          const where = `upgrade ${url} (${path}, ${what}, ${how})`;
          assert.notEqual(answer.status, 101, `${where}: the socket opened`);
          assertRefused(answer, where, [400, 401, 403, 404]);
          if (answer.status === 401 || answer.status === 403) routed++;
        }
      }
      assert.ok(routed >= 4 * 4, `${path}: the upgrade reached its route through several spellings (${routed})`);
    }
    assert.deepEqual(await counts(), before_, 'no ticket was minted');
  });

  test('every route the server registers needs a key, but an explicit public list (documented or not)', async () => {
    const routes = registeredRoutes(stack.server.app.printRoutes({ commonPrefix: false }));
    assert.ok(routes.length >= 20, `routes found: ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}`);
    const open: string[] = [];
    for (const { method, path } of routes) {
      // Every parameter and wildcard filled with something the route accepts as far as the router is concerned.
      const target = path.replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*$/, 'x');
      const body = method === 'POST' ? '{}' : '';
      const answer = await rawHttp(port, method, target, body ? { 'content-type': 'application/json' } : {}, body);
      assert.ok(answer.status < 500, `${method} ${target}: ${answer.status} ${answer.text.slice(0, 200)}`);
      // (printRoutes also lists the not-found handler as `/*`: what reaches it is no route, 404.)
      const noRoute = answer.status === 404 && (method === 'HEAD' || JSON.parse(answer.text).code === 'route_not_found');
      if (answer.status !== 401 && !noRoute) open.push(`${method} ${path}`);
    }
    const PUBLIC = /^(GET|HEAD) (\/|\/healthz|\/readyz|\/metrics|\/openapi\.yaml|\/assets\/\*|\/docs.*)$/;
    assert.deepEqual(
      open.filter((r) => !PUBLIC.test(r)),
      [],
      'routes answering without a key that are not on the public list',
    );
  });

  test('a WebSocket upgrade to a route that is not a WebSocket (public or keyed, with a key or without) answers 404, never 101', async () => {
    const routes = registeredRoutes(stack.server.app.printRoutes({ commonPrefix: false })).filter((r) => r.method === 'GET');
    const sockets = new Set(['/v1/events', '/v1/jobs/:id/events']);
    let tried = 0;
    for (const { path } of routes) {
      if (sockets.has(path)) continue;
      const target = path.replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*$/, 'x');
      for (const headers of [{}, { authorization: `Bearer ${stack.keys.a.key}` }] as Array<Record<string, string>>) {
        const where = `upgrade ${target}${'authorization' in headers ? ' with a key' : ''}`;
        const answer = await rawUpgrade(port, target, headers);
        assert.equal(answer.status, 404, `${where}: ${answer.status} ${answer.text.slice(0, 200)}`);
        assert.equal(JSON.parse(answer.text).code, 'route_not_found', where);
        tried++;
      }
    }
    assert.ok(tried >= 2 * 10, `upgrades tried: ${tried}`);
    // The WebSocket routes themselves still upgrade.
    assert.equal((await rawUpgrade(port, '/v1/events', { authorization: `Bearer ${stack.keys.a.key}` })).status, 101);
  });

  test('public routes stay public in any spelling the router accepts; an unmatched path stays 404', async () => {
    for (const target of ['/healthz', '/%68ealthz', `http://${host}/healthz`, '/readyz', '/metrics', '/openapi.yaml', '/docs', '/docs/json']) {
      const answer = await rawHttp(port, 'GET', target);
      assert.ok(answer.status === 200 || answer.status === 302, `${target}: ${answer.status} ${answer.text.slice(0, 200)}`);
    }
    for (const target of ['/v1/nothing', '/v1', '/v2/jobs', '/%76%32/jobs', `http://${host}/v1/nothing`]) {
      const answer = await rawHttp(port, 'GET', target);
      assert.equal(answer.status, 404, target);
      assert.equal(JSON.parse(answer.text).code, 'route_not_found', target);
    }
  });
});
