import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** Prisma's own lock id: our runner and `prisma migrate deploy` never run at the same time. */
const PRISMA_MIGRATE_LOCK = 72707369;
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Applies pending migrations exactly as `prisma migrate deploy` does (see ../shared/notes/prisma-offline.md),
 * so a database migrated here is indistinguishable from one migrated by Prisma's engine.
 */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
    await ensureBookkeeping(client);
    const failed = await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL');
    if (failed.rowCount) {
      const names = failed.rows.map((r) => r.migration_name).join(', ');
      throw new MigrationError(`a previous migration failed and must be resolved first (P3009): ${names}`);
    }
    const done = new Set(
      (await client.query('SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL')).rows.map((r) => r.migration_name as string),
    );
    const result: MigrationResult = { applied: [], alreadyApplied: [] };
    for (const name of await listMigrations(dir)) {
      if (done.has(name)) {
        result.alreadyApplied.push(name);
        continue;
      }
      await applyOne(client, dir, name);
      result.applied.push(name);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]).catch(() => {});
    await client.end();
  }
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function ensureBookkeeping(client: pg.Client): Promise<void> {
  const exists = await client.query("SELECT to_regclass('_prisma_migrations') AS t");
  if (exists.rows[0]?.t) return;
  const tables = await client.query('SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema()');
  if (tables.rows[0].n > 0) {
    throw new MigrationError('the database schema is not empty and has no migration history (P3005)');
  }
  await client.query(`CREATE TABLE _prisma_migrations (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    finished_at TIMESTAMPTZ,
    migration_name VARCHAR(255) NOT NULL,
    logs TEXT,
    rolled_back_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count INTEGER NOT NULL DEFAULT 0
  )`);
}

async function applyOne(client: pg.Client, dir: string, name: string): Promise<void> {
  const sql = await readFile(`${dir}/${name}/migration.sql`, 'utf8');
  const id = randomUUID();
  const checksum = createHash('sha256').update(sql).digest('hex');
  await client.query('INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ($1, $2, $3)', [id, checksum, name]);
  try {
    // One query for the whole file, as Prisma does: a failure rolls back what it can, and $$ bodies survive.
    await client.query(sql);
  } catch (err) {
    await client.query('UPDATE _prisma_migrations SET logs = $2 WHERE id = $1', [id, (err as Error).message]);
    throw new MigrationError(`migration ${name} failed: ${(err as Error).message}`);
  }
  await client.query('UPDATE _prisma_migrations SET applied_steps_count = 1, finished_at = now() WHERE id = $1', [id]);
}

/** Creates the database named in the URL when it does not exist (a developer's first start). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) return false;
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } finally {
    await admin.end();
  }
}
