/**
 * `distill keys create/list/revoke` as real processes against a fresh database: a key is printed once
 * at creation and stored only as its hash; listings show prefixes, never keys; a revoked key answers
 * 401 at once while the tenant's other keys keep working, and its open WebSockets on a running API close
 * (the CLI talks only to the database) and its unused WebSocket tickets stop working.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { spawnCli } from '../support/cli.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';
import { request } from '../support/http.js';
import { refusedUpgrade, upgrade } from '../support/ws.js';

const KEY = /dsk_[A-Za-z0-9_-]{43}/g;
/** The last line of a command's output that is JSON (what `--json` prints). */
const lastJson = (output: string): any =>
  JSON.parse(
    output
      .trim()
      .split('\n')
      .filter((l) => /^[[{]/.test(l))
      .at(-1)!,
  );

describe('distill keys', () => {
  let databaseUrl: string;
  let server: RunningServer;
  const env = () => ({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });

  /** Runs `distill keys ARGS` to its end. */
  async function keys(...args: string[]) {
    const cli = spawnCli(['keys', ...args], env());
    const exit = await cli.exited;
    return { code: exit.code, output: cli.output(), stderr: cli.stderr() };
  }

  const status = async (key: string) => (await request(server.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${key}` })).status;

  before(async () => {
    databaseUrl = await freshDatabase();
    server = await startServer(
      loadConfig({ DATABASE_URL: databaseUrl, REDIS_URL, QUEUE_NAME: `t${Math.random().toString(36).slice(2, 10)}`, HOST: '127.0.0.1', PORT: '0' }),
      pino({ level: 'silent' }),
    );
  });
  after(() => server?.close());

  let first: { id: string; key: string };
  let admin: { id: string; key: string; prefix: string };

  test('create prints the key once, with how to use it; only its hash is stored', async () => {
    const created = await keys('create', '--tenant', 'team-vision');
    assert.equal(created.code, 0, created.output);
    const printed = created.output.match(KEY) ?? [];
    assert.equal(printed.length, 1, `the key is printed exactly once:\n${created.output}`);
    const key = printed[0]!;
    assert.match(created.output, /shown only now/i);
    assert.match(created.output, /Authorization: Bearer/);
    const id = /key (key_[0-9a-z]{26})/.exec(created.output)?.[1];
    assert.ok(id, `the key's id is printed: ${created.output}`);
    first = { id, key };
    assert.equal(await status(key), 200, 'the printed key works');

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT * FROM api_keys');
      assert.equal(rows.length, 1);
      const stored = JSON.stringify(rows);
      assert.ok(!stored.includes(key) && !stored.includes(key.slice(4)), 'the key itself is not stored');
      assert.equal(rows[0].hash, createHash('sha256').update(key).digest('hex'), 'its SHA-256 is');
      assert.equal(rows[0].prefix, key.slice(0, 12));
      assert.equal(rows[0].admin, false);
    } finally {
      await client.end();
    }
  });

  test('create --admin --json: an admin key, as JSON', async () => {
    const created = await keys('create', '--tenant', 'operators', '--admin', '--json');
    assert.equal(created.code, 0, created.output);
    const parsed = lastJson(created.output);
    assert.equal(parsed.admin, true);
    assert.equal(parsed.tenantName, 'operators');
    assert.match(parsed.key, /^dsk_[A-Za-z0-9_-]{43}$/);
    assert.equal(parsed.prefix, parsed.key.slice(0, 12));
    admin = parsed;
    assert.equal(await status(admin.key), 200);
  });

  test('a bad tenant name or a missing --tenant is refused, and nothing is created', async () => {
    for (const args of [['--tenant', 'bad name!'], []]) {
      const refused = await keys('create', ...args);
      assert.notEqual(refused.code, 0, `create ${args.join(' ')}: ${refused.output}`);
      assert.equal(refused.output.match(KEY), null, 'no key printed');
      assert.match(refused.stderr, /tenant/);
    }
    // (The listing below holds exactly the two keys created above.)
  });

  test('list shows ids, tenants and prefixes, never a key (table and JSON)', async () => {
    const table = await keys('list');
    assert.equal(table.code, 0, table.output);
    const json = await keys('list', '--json');
    assert.equal(json.code, 0, json.output);
    for (const listing of [table.output, json.output]) {
      assert.deepEqual(listing.match(KEY), null, `a key in the listing:\n${listing}`);
      for (const key of [first.key, admin.key]) {
        assert.ok(!listing.includes(key.slice(12)), 'no part of a key past its prefix');
        assert.ok(listing.includes(key.slice(0, 12)), 'the prefix is shown');
      }
      for (const text of [first.id, admin.id, 'team-vision', 'operators']) assert.ok(listing.includes(text), `${text} listed`);
    }
    const rows = lastJson(json.output) as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(rows[0]!).sort(), ['admin', 'created_at', 'id', 'prefix', 'revoked_at', 'tenant']);
    assert.deepEqual(
      rows.map((r) => [r.id, r.tenant, r.admin, r.revoked_at]),
      [
        [first.id, 'team-vision', false, null],
        [admin.id, 'operators', true, null],
      ],
    );
  });

  test("revoke makes the key answer 401 at once; the tenant's other keys keep working; revoking twice or an unknown id fails", async () => {
    const second = lastJson((await keys('create', '--tenant', 'team-vision', '--json')).output);
    assert.equal(await status(second.key), 200);

    const revoked = await keys('revoke', first.id);
    assert.equal(revoked.code, 0, revoked.output);
    assert.match(revoked.output, new RegExp(`revoked ${first.id}`));
    assert.equal(await status(first.key), 401, 'the revoked key is refused');
    assert.equal(await status(second.key), 200, 'another key of the same tenant still works');
    assert.equal(await status(admin.key), 200);

    const listed = lastJson((await keys('list', '--json')).output) as Array<{ id: string; revoked_at: string | null }>;
    const row = listed.find((r) => r.id === first.id);
    assert.ok(row?.revoked_at && Date.parse(row.revoked_at) <= Date.now(), 'list shows when it was revoked');

    const again = await keys('revoke', first.id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no active key/);
    const unknown = await keys('revoke', 'key_00000000000000000000000000');
    assert.equal(unknown.code, 1);
    assert.equal(await status(first.key), 401);
  });

  test("revoke closes the key's open WebSockets on the running API within seconds (4401) and voids its unused tickets", async () => {
    const doomed = lastJson((await keys('create', '--tenant', 'team-sockets', '--json')).output);
    const wsUrl = `${server.url.replace(/^http/, 'ws')}/v1/events`;
    const mint = async () => (await request(server.url, 'POST', '/v1/ws-tickets', undefined, { authorization: `Bearer ${doomed.key}` })).body.ticket as string;
    const sockets = [await upgrade(wsUrl, { authorization: `Bearer ${doomed.key}` }), await upgrade(`${wsUrl}?ticket=${await mint()}`)];
    const unused = await mint();
    for (const socket of sockets) assert.equal(socket.kind, 'open');

    const revoked = await keys('revoke', doomed.id);
    assert.equal(revoked.code, 0, revoked.output);
    assert.match(revoked.output, /WebSockets close within/);
    for (const [i, socket] of sockets.entries()) {
      if (socket.kind !== 'open') continue;
      const closed = await Promise.race([socket.closed, new Promise<undefined>((r) => void setTimeout(r, 30_000))]);
      assert.equal(closed?.code, 4401, `socket ${i} closed with 4401 within 30 s`);
      assert.match(closed.reason, /revoked/);
    }
    const refused = await refusedUpgrade(`${wsUrl}?ticket=${unused}`);
    assert.equal(refused.status, 401, 'the ticket minted before the revocation no longer opens a socket');
  });
});
