// `npx tsx bench/api-start.ts [--runs 7] [--entry path/bin/distill.js …]`: the API process as deployed
// (`node bin/distill.js serve`, the compiled dist/: run `npm run build` first) started --runs times against a
// database, queue and directory of the bench's own. Several --entry (say, a copy of bin/ and dist/ built
// before a change, beside this one) are started in turn, so a busy machine weighs on each alike. For each start: milliseconds from spawn to the 'API listening' log line, and the
// process's resident memory (VmRSS) one second after it listens. Issue 14 item 3: the API must not load
// TensorFlow.js, and this is what that buys.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { databaseUrl, PG_ADMIN_URL, REDIS_URL } from '../test/support/env.js';

const argv = process.argv.slice(2);
const RUNS = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 7;
const entries = argv.flatMap((a, i) => (argv[i - 1] === '--entry' ? [a] : []));
const ENTRIES = entries.length > 0 ? entries : [fileURLToPath(new URL('../bin/distill.js', import.meta.url))];
/** A start that takes longer than this is broken, not slow. */
const START_DEADLINE_MS = 60_000;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startOnce(entry: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; rss: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [entry, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const ms = await new Promise<number>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`the API did not listen within ${START_DEADLINE_MS} ms`)), START_DEADLINE_MS);
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        if (out.includes('API listening')) {
          clearTimeout(deadline);
          resolve(performance.now() - started);
        }
      });
      child.once('exit', (code) => reject(new Error(`${entry}: the API exited (${code}) before listening:\n${out}`)));
    });
    await new Promise((r) => setTimeout(r, 1000));
    return { ms, rss: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** A fresh node importing the API's module tree (what a start loads before it connects to anything). */
function importOnce(entry: string): { ms: number; rss: number } {
  const server = pathToFileURL(join(dirname(entry), '..', 'dist', 'api', 'server.js')).href;
  const script = `const t = performance.now(); await import(${JSON.stringify(server)}); console.log(JSON.stringify({ ms: performance.now() - t, rss: process.memoryUsage().rss / 2 ** 20 }))`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`importing ${server} failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as { ms: number; rss: number };
}

const row = (label: string, runs: Array<{ ms: number; rss: number }>) => {
  const ms = runs.map((r) => r.ms);
  const rss = runs.map((r) => r.rss);
  return `| ${label} | ${runs.length} | ${median(ms).toFixed(0)} ms (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}) | ${median(rss).toFixed(0)} MiB (${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)}) |`;
};

const tag = randomBytes(4).toString('hex');
const dbName = `distill_bench_apistart_${tag}`;
const queueName = `benchapistart${tag}`;
const artifactDir = mkdtempSync(join(tmpdir(), 'distill-bench-apistart-'));
const admin = new pg.Client(PG_ADMIN_URL);
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
try {
  await migrate(databaseUrl(dbName));
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl(dbName),
    REDIS_URL,
    QUEUE_NAME: queueName,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ARTIFACT_DIR: artifactDir,
  };
  const starts = ENTRIES.map(() => [] as Array<{ ms: number; rss: number }>);
  const imports = ENTRIES.map(() => [] as Array<{ ms: number; rss: number }>);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, entry] of ENTRIES.entries()) {
      starts[k]!.push(await startOnce(entry, env));
      imports[k]!.push(importOnce(entry));
    }
  }
  console.log('| entry, measure | runs | milliseconds: median (min–max) | resident memory: median (min–max) |');
  console.log('|---|---|---|---|');
  for (const [k, entry] of ENTRIES.entries()) {
    console.log(row(`${entry}: start to 'API listening'`, starts[k]!));
    console.log(row(`${entry}: import dist/api/server.js`, imports[k]!));
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  rmSync(artifactDir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`*${queueName}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}
