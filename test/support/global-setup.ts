// Run once by scripts/test.mjs before the suite: a migrated template database that each test file
// clones in milliseconds (CREATE DATABASE … TEMPLATE), so every file starts from a clean schema.
// Several suites may run at once on one machine, so nothing another run may be using is dropped.
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { databaseUrl, PG_ADMIN_URL, TEMPLATE_DB, TEST_DB_PREFIX } from './env.js';

const STALE_AFTER_S = 3 * 3600;

const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
await admin.connect();
// Databases left behind by runs that died: their names start with their creation time.
const { rows } = await admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${TEST_DB_PREFIX}%`]);
const now = Math.floor(Date.now() / 1000);
for (const { datname } of rows) {
  const created = Number((datname as string).slice(TEST_DB_PREFIX.length).split('_')[0]);
  if (Number.isFinite(created) && now - created > STALE_AFTER_S) {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
  }
}
const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DB]);
if (!exists.rowCount)
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`).catch((err) => {
    if (err.code !== '42P04') throw err; // created by a run starting at the same moment
  });
await admin.end();
// Brings an existing template up to date too: a new migration reaches every later clone.
const { applied } = await migrate(databaseUrl(TEMPLATE_DB));
console.log(`test database template ready (${applied.length} new migration(s))`);
