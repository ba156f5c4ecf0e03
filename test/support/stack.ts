import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { startServer, type RunningServer } from '../../src/api/server.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createDb, type Db } from '../../src/db/client.js';
import { createApiKey, type CreatedKey } from '../../src/auth/api-keys.js';
import { freshDatabase } from './database.js';
import { setDefaultKey } from './http.js';
import { REDIS_URL } from './env.js';

export interface WorkerProcess {
  process: ChildProcess;
  /** Every JSON log line the worker printed so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the first log line that matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

export interface Stack {
  url: string;
  wsUrl: string;
  config: Config;
  env: Record<string, string>;
  db: Db;
  redis: Redis;
  server: RunningServer;
  workers: WorkerProcess[];
  startWorker(extraEnv?: Record<string, string>): Promise<WorkerProcess>;
  /** Removes every key of this stack's queues from Redis, as if Redis had been emptied. */
  emptyRedis(): Promise<void>;
  /** API keys: `a` is the default key of every request() to this stack; `b` is another tenant's; `admin` sees all. */
  keys: { a: CreatedKey; b: CreatedKey; admin: CreatedKey };
  /** Stops the workers and the API and removes what the stack left in Redis and on disk. */
  stop(): Promise<void>;
}

/**
 * The real product for one test file: its own database, queue name and artifact directory; the API
 * in this process (on a free port) and workers as real child processes running `distill worker`.
 * `env` may point DATABASE_URL (a migrated database) and REDIS_URL at servers of the test's own
 * (test/support/services.ts); the stack then uses those instead of the shared ones.
 * Call `stop()` in the file's `after` hook.
 */
export async function startStack(options: { workers?: number; env?: Record<string, string> } = {}): Promise<Stack> {
  const artifactDir = await mkdtemp(join(tmpdir(), 'distill-test-'));
  const env: Record<string, string> = {
    DATABASE_URL: options.env?.DATABASE_URL ?? (await freshDatabase()),
    REDIS_URL,
    QUEUE_NAME: `t${randomBytes(5).toString('hex')}`,
    ARTIFACT_DIR: artifactDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    TRAINING_BACKEND: 'wasm',
    RECONCILE_INTERVAL_SECONDS: '1',
    SHUTDOWN_GRACE_SECONDS: '20',
    // The API runs in the test's own process, so its event-loop lag is the test's (a browser driven,
    // models loaded, a loaded machine), not the API's: shedding would answer 503 `overloaded` to the
    // test's own requests. test/api/auth-limits.test.ts turns it on to test it.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...options.env,
  };
  const config = loadConfig(env);
  const server = await startServer(config, pino({ level: process.env.TEST_API_LOG ?? 'silent' }));
  const db = createDb(config.DATABASE_URL, 4);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const workers: WorkerProcess[] = [];
  const keys = { a: await createApiKey(db, 'tenant-a'), b: await createApiKey(db, 'tenant-b'), admin: await createApiKey(db, 'operators', true) };
  setDefaultKey(server.url, keys.a.key);

  const startWorker = async (extraEnv: Record<string, string> = {}) => {
    const worker = spawnWorker({ ...env, ...extraEnv });
    workers.push(worker);
    await worker.waitForLog((l) => l.msg === 'worker ready', 60_000);
    return worker;
  };
  for (let i = 0; i < (options.workers ?? 1); i++) await startWorker();

  const stack: Stack = {
    url: server.url,
    wsUrl: server.url.replace(/^http/, 'ws'),
    config,
    env,
    db,
    redis,
    server,
    workers,
    keys,
    startWorker,
    emptyRedis: async () => {
      for (const pattern of [`bull:${config.QUEUE_NAME}:*`, `bull:${config.QUEUE_NAME}-webhooks:*`]) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
      }
    },
    stop: async () => {
      await Promise.all(workers.map((w) => stopProcess(w)));
      await server.close();
      await stack.emptyRedis().catch(() => {});
      redis.disconnect();
      await db.$disconnect();
      await rm(artifactDir, { recursive: true, force: true });
    },
  };
  return stack;
}

function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line });
      }
      if (process.env.TEST_WORKER_LOG) process.stderr.write(`[worker ${child.pid}] ${line}\n`);
      waiters.forEach((w) => w());
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (process.env.TEST_WORKER_LOG) process.stderr.write(`[worker ${child.pid} stderr] ${chunk}`);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    process: child,
    logs,
    exited,
    waitForLog(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(match);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`worker log line not seen within ${timeoutMs} ms; last lines: ${JSON.stringify(logs.slice(-5))}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export async function stopProcess(worker: WorkerProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 25_000): Promise<void> {
  if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
  worker.process.kill(signal);
  const timer = setTimeout(() => worker.process.kill('SIGKILL'), timeoutMs);
  await worker.exited;
  clearTimeout(timer);
}
