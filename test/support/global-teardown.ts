// Run once by scripts/test.mjs after the suite: drops the databases this run's test files cloned.
import pg from 'pg';
import { PG_ADMIN_URL, runDatabasePrefix } from './env.js';

const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
await admin.connect();
const { rows } = await admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${runDatabasePrefix()}%`]);
for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
await admin.end();
