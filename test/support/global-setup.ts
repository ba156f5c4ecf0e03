// Run once by scripts/test.mjs before the suite: a migrated template database that each test file
// clones in milliseconds (CREATE DATABASE … TEMPLATE), so every file starts from a clean schema.
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { databaseUrl, PG_ADMIN_URL, TEMPLATE_DB } from './env.js';

const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
await admin.connect();
// Databases left behind by an interrupted earlier run.
const stale = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'distill_t_%' OR datname = $1", [TEMPLATE_DB]);
for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
await admin.end();
const { applied } = await migrate(databaseUrl(TEMPLATE_DB));
console.log(`test database template ready (${applied.length} migration(s))`);
