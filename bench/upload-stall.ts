// `npx tsx bench/upload-stall.ts [--mib 32] [--features 32] [--rounds 2]`: how long a large CSV upload
// holds the API's event loop (every other request and socket waits that long). The API runs in its own
// process (bench/load/server.ts) and reports its event-loop delay; the bench uploads a generated CSV.
// Beside it, in the same run: the same parse run directly on this process's event loop, which is where
// the API ran it before upload checks moved to a child process.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createApiKey } from '../src/auth/api-keys.js';
import { createDb } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { parseDataset, planDataset } from '../src/resources/dataset-files.js';
import { databaseUrl, PG_ADMIN_URL, REDIS_URL } from '../test/support/env.js';
import { startApiProcess } from './load/api-process.js';
import { ms } from './load/stats.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const MIB = option('mib', 32);
const FEATURES = option('features', 32);
const ROUNDS = option('rounds', 2);

function bigCsv(): Buffer {
  const header = [...Array.from({ length: FEATURES }, (_, j) => `f${j}`), 'label'].join(',');
  const rows: string[] = [header];
  let bytes = header.length + 1;
  for (let i = 0; bytes < MIB * 1024 ** 2; i++) {
    const row = [...Array.from({ length: FEATURES }, (_, j) => (((i * 31 + j * 17) % 1000) / 1000).toFixed(3)), `c${i % 10}`].join(',');
    rows.push(row);
    bytes += row.length + 1;
  }
  return Buffer.from(`${rows.join('\n')}\n`);
}

const dbName = `distill_bench_upload_${randomBytes(4).toString('hex')}`;
const queueName = `benchup${randomBytes(4).toString('hex')}`;
const artifactDir = mkdtempSync(join(tmpdir(), 'distill-bench-upload-'));
const admin = new pg.Client(PG_ADMIN_URL);
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const db = createDb(databaseUrl(dbName), 2);
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
    LOG_LEVEL: 'info',
    ARTIFACT_DIR: artifactDir,
    MAX_UPLOAD_BYTES: String((MIB + 8) * 1024 ** 2),
    MAX_EVENT_LOOP_DELAY_MS: '0',
  });
  try {
    const csv = bigCsv();
    console.log(`CSV: ${(csv.length / 1024 ** 2).toFixed(1)} MiB, ${FEATURES} features; Node ${process.version}`);
    console.log('| what | took s | event-loop delay p99 ms | max ms |');
    console.log('|---|---|---|---|');
    const row = (what: string, took: number, loop: { p99: number; max: number }) =>
      console.log(`| ${what} | ${(took / 1000).toFixed(2)} | ${ms(loop.p99)} | ${ms(loop.max)} |`);
    for (let round = 0; round < ROUNDS; round++) {
      // The same bytes again would be answered from the first upload's row: start from no datasets.
      await db.dataset.deleteMany({});
      const form = new FormData();
      form.append('csv', new Blob([new Uint8Array(csv)]), 'big.csv');
      await api.loop();
      let start = performance.now();
      const response = await fetch(`${api.url}/v1/datasets`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
      if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
      row('POST /v1/datasets: the API process (check in a child process)', performance.now() - start, await api.loop());

      // Synchronous: the event loop is held for all of it.
      start = performance.now();
      parseDataset(planDataset({ fields: {}, files: [{ field: 'csv', filename: 'big.csv', bytes: csv }], bytes: csv.length }));
      const held = performance.now() - start;
      row('planDataset + parseDataset on an event loop (where the API ran them before)', held, { p99: held, max: held });
    }
  } finally {
    await api.stop();
  }
} finally {
  await db.$disconnect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  rmSync(artifactDir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`*${queueName}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}
