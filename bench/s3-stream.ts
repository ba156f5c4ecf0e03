// Memory while streaming a large object (issue 15): put and get one object of SIZE_MB (default 500)
// through the artifact store (the directory and an S3 bucket on a throwaway radosgw), then download it
// through the API's artifact route from the bucket, sampling resident memory every 20 ms: the bench
// process's own for the store, the API process's (/proc/<pid>/status) for the download.
//   npx tsx bench/s3-stream.ts [SIZE_MB]
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { createApiKey } from '../src/auth/api-keys.js';
import { loadConfig } from '../src/config.js';
import { createDb } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { newId } from '../src/ids.js';
import { type ArtifactStore, openConfiguredStore } from '../src/storage/artifact-store.js';
import { databaseUrl, PG_ADMIN_URL, REDIS_URL } from '../test/support/env.js';
import { startS3Server } from '../test/support/s3-server.js';
import { startApiProcess } from './load/api-process.js';

const SIZE = Number(process.argv[2] ?? 500) * 1024 ** 2;
const MiB = 1024 ** 2;
const CHUNK = MiB;
const mb = (bytes: number) => (bytes / MiB).toFixed(0);

/** SIZE bytes made a MiB at a time (varying, so nothing dedupes or compresses them away). */
function source(): Readable {
  let at = 0;
  const block = randomBytes(CHUNK);
  return new Readable({
    read() {
      if (at >= SIZE) return this.push(null);
      const n = Math.min(CHUNK, SIZE - at);
      const chunk = Buffer.from(block.subarray(0, n));
      chunk.writeUInt32BE(at / CHUNK, 0);
      at += n;
      this.push(chunk);
    },
  });
}

/** Samples `rss()` every 20 ms while `work` runs; returns the baseline before and the peak during. */
async function sampled<T>(rss: () => number, work: () => Promise<T>): Promise<{ result: T; before: number; peak: number; seconds: number }> {
  global.gc?.();
  const before = rss();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 20);
  const started = performance.now();
  try {
    const result = await work();
    peak = Math.max(peak, rss());
    return { result, before, peak, seconds: (performance.now() - started) / 1000 };
  } finally {
    clearInterval(timer);
  }
}

const ownRss = () => process.memoryUsage.rss();
const rssOf = (pid: number) => () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function hashStream(stream: AsyncIterable<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest('hex') };
}

const rows: string[] = [];
const row = (what: string, r: { before: number; peak: number; seconds: number }) => {
  const line = `| ${what} | ${mb(SIZE)} | ${r.seconds.toFixed(1)} | ${(SIZE / MiB / r.seconds).toFixed(0)} | ${mb(r.before)} | ${mb(r.peak)} | ${mb(r.peak - r.before)} |`;
  rows.push(line);
  console.log(line);
};

const s3 = await startS3Server();
const dir = mkdtempSync(join(tmpdir(), 'distill-bench-s3-'));
const dbName = `distill_bench_s3_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client(PG_ADMIN_URL);
await admin.connect();
try {
  await s3.createBucket('bench');
  const s3Env = s3.env('bench', 'bench/');
  const stores: Array<[string, ArtifactStore]> = [
    ['directory', openConfiguredStore(loadConfig({ ARTIFACT_DIR: dir }))],
    ['S3 (radosgw)', openConfiguredStore(loadConfig(s3Env))],
  ];
  console.log('| what | MiB | s | MiB/s | RSS before (MiB) | RSS peak (MiB) | growth (MiB) |\n|---|---|---|---|---|---|---|');
  let stored = { key: '', bytes: 0, sha256: '' };
  for (const [name, store] of stores) {
    const put = await sampled(ownRss, () => store.putStream('jobs/job_bench/attempts/1/student/weights.bin', source()));
    row(`${name}: store.putStream (bench process)`, put);
    const get = await sampled(ownRss, () => hashStream(store.stream('jobs/job_bench/attempts/1/student/weights.bin')));
    if (get.result.sha256 !== put.result.sha256 || get.result.bytes !== SIZE) throw new Error(`${name}: the object read back differs`);
    row(`${name}: store.stream (bench process)`, get);
    stored = put.result;
  }

  // The download route, from the bucket, in an API process of its own.
  await admin.query(`CREATE DATABASE ${dbName}`);
  await migrate(databaseUrl(dbName));
  const db = createDb(databaseUrl(dbName), 2);
  const key = await createApiKey(db, 'bench');
  const jobId = newId('job');
  await db.job.create({ data: { id: jobId, tenantId: key.tenantId, status: 'succeeded', spec: {} } });
  await db.artifact.create({
    data: { id: newId('art'), jobId, kind: 'student', file: 'weights.bin', storageKey: stored.key, bytes: BigInt(stored.bytes), sha256: stored.sha256 },
  });
  const api = await startApiProcess({
    ...process.env,
    ...s3Env,
    DATABASE_URL: databaseUrl(dbName),
    REDIS_URL,
    QUEUE_NAME: `benchs3${randomBytes(4).toString('hex')}`,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    ARTIFACT_DIR: dir,
    MAX_EVENT_LOOP_DELAY_MS: '0',
  });
  try {
    // One small download first, so the API's lazily loaded code is not counted as the stream's.
    await fetch(`${api.url}/v1/jobs/${jobId}/artifacts`, { headers: { authorization: `Bearer ${key.key}` } }).then((r) => r.arrayBuffer());
    const download = await sampled(rssOf(api.pid), async () => {
      const response = await fetch(`${api.url}/v1/jobs/${jobId}/artifacts/student/weights.bin`, { headers: { authorization: `Bearer ${key.key}` } });
      if (response.status !== 200) throw new Error(`download answered ${response.status}`);
      return hashStream(response.body as unknown as AsyncIterable<Uint8Array>);
    });
    if (download.result.sha256 !== stored.sha256) throw new Error('the download differs from the object');
    row('S3 (radosgw): GET /v1/jobs/{id}/artifacts/student/weights.bin (API process)', download);
  } finally {
    await api.stop();
    await db.$disconnect();
  }
} finally {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  await admin.end();
}
