// A database, queue name and artifact directory of a bench's own, with one tenant's API key and the API in
// its own process (./api-process.ts); `close()` stops the API and removes all of it (database, files, Redis keys).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createDb, type Db } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { databaseUrl, PG_ADMIN_URL, REDIS_URL } from '../../test/support/env.js';
import { type ApiProcess, startApiProcess } from './api-process.js';

export interface ApiSandbox {
  api: ApiProcess;
  db: Db;
  /** An API key of the bench's tenant. */
  key: string;
  close(): Promise<void>;
}

/** `name` tags the database, queue and directory; `env` is added to the API's settings (MAX_UPLOAD_BYTES, …). */
export async function startApiSandbox(name: string, env: Record<string, string> = {}): Promise<ApiSandbox> {
  const tag = randomBytes(4).toString('hex');
  const dbName = `distill_bench_${name}_${tag}`;
  const queueName = `bench${name}${tag}`;
  const artifactDir = mkdtempSync(join(tmpdir(), `distill-bench-${name}-`));
  const admin = new pg.Client(PG_ADMIN_URL);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const db = createDb(databaseUrl(dbName), 2);
  const cleanUp = async () => {
    await db.$disconnect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    rmSync(artifactDir, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`*${queueName}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  };
  try {
    await migrate(databaseUrl(dbName));
    const key = (await createApiKey(db, 'bench')).key;
    const api = await startApiProcess({
      ...process.env,
      DATABASE_URL: databaseUrl(dbName),
      REDIS_URL,
      QUEUE_NAME: queueName,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      ARTIFACT_DIR: artifactDir,
      MAX_EVENT_LOOP_DELAY_MS: '0',
      ...env,
    });
    return { api, db, key, close: async () => (await api.stop(), await cleanUp()) };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
