/**
 * Where the tests find Postgres and Redis. CI and developers run them on localhost; the variables
 * let another machine point elsewhere. Each test file gets its own database and queue name.
 */
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEMPLATE_DB = 'distill_test_template';

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
