// Run once by scripts/test.mjs after the suite: drops the databases the test files cloned.
import pg from 'pg';
import { PG_ADMIN_URL } from './env.js';

const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
await admin.connect();
const { rows } = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'distill_t_%'");
for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
await admin.end();
