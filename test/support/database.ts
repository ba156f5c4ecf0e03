import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrl, PG_ADMIN_URL, runDatabasePrefix, TEMPLATE_DB } from './env.js';

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A migrated database of its own for the calling test file. It outlives the file (a hook here would
 * bind to whichever test or hook called it); the test runner drops them all when the suite ends.
 */
export async function freshDatabase(options: { migrated?: boolean } = {}): Promise<string> {
  const name = `${runDatabasePrefix()}${randomBytes(4).toString('hex')}`;
  const template = options.migrated === false ? 'template0' : TEMPLATE_DB;
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  return databaseUrl(name);
}
