import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the tests find Postgres and Redis. CI and developers run them on localhost; the variables
 * let another machine point elsewhere. Each test file gets its own database and queue name.
 */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * The migrated template every test file clones, named after the migrations it holds: suites run from
 * checkouts with different migrations (branches side by side on one machine) never share a template, so
 * one branch's new column cannot show up as drift in another's.
 */
export const TEMPLATE_DB = `distill_test_template_${migrationsDigest()}`;

function migrationsDigest(): string {
  const dir = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));
  const hash = createHash('sha256');
  for (const name of readdirSync(dir)
    .filter((n) => !n.includes('.'))
    .sort()) {
    hash.update(name).update(readFileSync(join(dir, name, 'migration.sql')));
  }
  return hash.digest('hex').slice(0, 12);
}

export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export const TEST_DB_PREFIX = 'distill_t_';

/**
 * Databases of one suite run share a prefix holding the run's start time (set by scripts/test.mjs),
 * so the run drops its own at the end and a later run can tell a dead run's leftovers by their age.
 */
export function runDatabasePrefix(): string {
  const run = process.env.DISTILL_TEST_RUN ?? `${Math.floor(Date.now() / 1000)}_adhoc${process.pid}`;
  return `${TEST_DB_PREFIX}${run}_`;
}
