import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { listMigrations, migrate, MIGRATIONS_DIR, MigrationError } from '../../src/db/migrate.js';
import { checkDrift, SCHEMA_PATH } from '../../scripts/schema-drift.js';
import { spawnCli } from '../support/cli.js';
import { freshDatabase } from '../support/database.js';
import { databaseUrl, PG_ADMIN_URL, runDatabasePrefix } from '../support/env.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  started_at: Date;
  logs: string | null;
  applied_steps_count: number;
}

describe('migrations', () => {
  it('apply to an empty database, then a second run applies nothing', async () => {
    const url = await freshDatabase({ migrated: false });
    const names = await listMigrations();
    assert.ok(names.length > 0);

    const first = await migrate(url);
    assert.deepEqual(first, { applied: names, alreadyApplied: [] });
    const second = await migrate(url);
    assert.deepEqual(second, { applied: [], alreadyApplied: names });

    const rows = await query<MigrationRow>(url, 'SELECT * FROM _prisma_migrations ORDER BY migration_name');
    assert.deepEqual(
      rows.map((r) => r.migration_name),
      names,
      'one row per migration, none added by the second run',
    );
    for (const row of rows) {
      const sql = readFileSync(join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'), 'utf8');
      assert.equal(row.checksum, createHash('sha256').update(sql).digest('hex'), 'checksum is the SHA-256 of migration.sql');
      assert.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'id is a v4 uuid');
      assert.ok(row.finished_at instanceof Date && row.finished_at >= row.started_at);
      assert.equal(row.rolled_back_at, null);
      assert.equal(row.logs, null);
      assert.equal(row.applied_steps_count, 1);
    }
  });

  it("keeps Prisma's bookkeeping table layout", async () => {
    const url = await freshDatabase({ migrated: false });
    await migrate(url);
    const columns = await query<{ column_name: string; data_type: string; is_nullable: string; max: number | null }>(
      url,
      `SELECT column_name, data_type, is_nullable, character_maximum_length AS max FROM information_schema.columns
        WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    assert.deepEqual(
      columns.map((c) => `${c.column_name} ${c.data_type}${c.max ? `(${c.max})` : ''}${c.is_nullable === 'NO' ? ' not null' : ''}`),
      [
        'id character varying(36) not null',
        'checksum character varying(64) not null',
        'finished_at timestamp with time zone',
        'migration_name character varying(255) not null',
        'logs text',
        'rolled_back_at timestamp with time zone',
        'started_at timestamp with time zone not null',
        'applied_steps_count integer not null',
      ],
    );
  });

  describe('with migrations of our own', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'distill-migrations-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, sql: string) => {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, 'migration.sql'), sql);
    };

    it('records a failed migration and refuses to go on until it is resolved (P3009)', async () => {
      const url = await freshDatabase({ migrated: false });
      write('20260101000000_ok', 'CREATE TABLE "a" ("id" INTEGER PRIMARY KEY);');
      write('20260102000000_broken', 'CREATE TABLE "b" ("id" INTEGER PRIMARY KEY);\nSELECT no_such_function();');
      await assert.rejects(migrate(url, dir), (err: Error) => err instanceof MigrationError && /20260102000000_broken/.test(err.message));
      const rows = await query<MigrationRow>(url, 'SELECT * FROM _prisma_migrations ORDER BY migration_name');
      assert.equal(rows.length, 2);
      assert.ok(rows[0]?.finished_at);
      assert.equal(rows[1]?.finished_at, null);
      assert.match(rows[1]?.logs ?? '', /no_such_function/);
      // The failing file ran as one statement: its first half was rolled back with it.
      assert.deepEqual(await query(url, "SELECT to_regclass('b') AS t"), [{ t: null }]);
      await assert.rejects(migrate(url, dir), /P3009/);
    });

    it('refuses a non-empty database without migration history (P3005)', async () => {
      const url = await freshDatabase({ migrated: false });
      await query(url, 'CREATE TABLE "stray" ("id" INTEGER)');
      await assert.rejects(migrate(url), /P3005/);
    });
  });

  it('`distill migrate` creates a missing database and migrates it; a second run says it is up to date', async () => {
    // Named like the suite's other databases, so a run that dies before after() leaves it for the stale sweep.
    const name = `${runDatabasePrefix()}cli${process.pid}`;
    const url = databaseUrl(name);
    after(() => query(PG_ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    const first = spawnCli(['migrate'], { DATABASE_URL: url });
    assert.equal((await first.exited).code, 0, first.output());
    assert.match(first.output(), new RegExp(`created database ${name}`));
    assert.match(first.output(), /applied 20261128000000_init/);
    const second = spawnCli(['migrate'], { DATABASE_URL: url });
    assert.equal((await second.exited).code, 0, second.output());
    assert.match(second.output(), /database up to date/);
  });
});

describe('drift between schema.prisma and the migrations', () => {
  const schema = readFileSync(SCHEMA_PATH, 'utf8');
  const database = freshDatabase();

  it('finds none for the schema as committed', async () => {
    assert.deepEqual(await checkDrift(schema, await database), []);
  });

  /** schema.prisma with one edit nobody wrote a migration for. */
  function drifted(from: string | RegExp, to: string): string {
    const text = schema.replace(from, to);
    assert.notEqual(text, schema, `the edit ${from} did not apply: update this test`);
    return text;
  }

  const cases: [string, string | RegExp, string, string[]][] = [
    ['a field added', 'model Tenant {', 'model Tenant {\n  extra String', ['missing in the database: column tenants.extra text not null']],
    [
      'a field made required',
      /(\n\s+phase\s+)String\?/,
      '$1String',
      ['missing in the database: column jobs.phase text not null', 'not in schema.prisma: column jobs.phase text'],
    ],
    [
      'a field retyped',
      /(\n\s+attempts\s+)Int /,
      '$1BigInt ',
      ['missing in the database: column jobs.attempts int8 not null', 'not in schema.prisma: column jobs.attempts int4 not null'],
    ],
    [
      'an enum value added',
      /(enum JobPriority \{\s+low)/,
      '$1\n  urgent',
      ['missing in the database: enum "JobPriority" (low, urgent, normal, high)', 'not in schema.prisma: enum "JobPriority" (low, normal, high)'],
    ],
    ['an index added', '  @@index([status])\n', '  @@index([status])\n  @@index([createdAt])\n', ['missing in the database: index jobs(created_at)']],
    [
      'a delete rule changed',
      'onDelete: SetNull',
      'onDelete: Cascade',
      [
        'missing in the database: foreign key models(source_job_id) -> jobs(id) on delete Cascade',
        'not in schema.prisma: foreign key models(source_job_id) -> jobs(id) on delete SetNull',
      ],
    ],
    [
      'a model added',
      'enum JobStatus {',
      'model Extra {\n  id String @id\n}\n\nenum JobStatus {',
      ['missing in the database: column Extra.id text not null', 'missing in the database: primary key Extra(id)', 'missing in the database: table Extra'],
    ],
  ];
  for (const [what, from, to, expected] of cases) {
    it(`fails on ${what} without a migration`, async () => {
      assert.deepEqual(await checkDrift(drifted(from, to), await database), expected);
    });
  }
});
