// `npx tsx bench/admission.ts [--ops 500]`: what fair scheduling's admission (src/queue/admission.ts)
// costs on the submit path. Measured in this process against a fresh migrated database and a unique
// BullMQ queue (both removed at the end), one call at a time, for a tenant whose places in the queue are
// taken (the common case under load: nothing to admit, only the count):
//   - admitJobs(): the database function admit_jobs, one statement;
//   - the same rule as a Prisma batch transaction (advisory lock, then the counting UPDATE), the first
//     version, kept here for comparison;
//   - submitJob() as the route calls it, which includes admitJobs().
// Prints p50/p99 latency and CPU per call of this process (Prisma's query engine runs in it).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createApiKey } from '../src/auth/api-keys.js';
import { createDb, Prisma } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { submitJob } from '../src/jobs/submit.js';
import { admitJobs } from '../src/queue/admission.js';
import { createTrainQueue } from '../src/queue/queue.js';
import { QUICK_JOB } from '../test/support/specs.js';

const ops = Number(process.argv[process.argv.indexOf('--ops') + 1] || 500);
const adminUrl = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = `distill_bench_adm_${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString('hex')}`;
const admin = async (sql: string) => {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(sql).finally(() => c.end());
};
await admin(`CREATE DATABASE ${dbName}`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;
await migrate(url.toString());
const db = createDb(url.toString(), 4);
const redis = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const queue = createTrainQueue(`bench${randomBytes(5).toString('hex')}`, redis);
try {
  const { tenantId } = await createApiKey(db, 'bench');
  const log = { warn: () => {} };
  const admission = { maxDispatched: 4, maxWaiting: 1, attempts: 3 };
  const submitDeps = { db, redis, queue, channelPrefix: 'bench', admission, maxActiveJobs: 1e9, maxStoredBytes: 1e15, log };
  const submit = () => submitJob(submitDeps, { tenantId, spec: QUICK_JOB as never, metadata: {}, priority: 'normal', references: { models: [] } });
  for (let i = 0; i < 50; i++) await submit(); // a backlog: one job admitted, the rest waiting in Postgres

  const asTransaction = () =>
    db.$transaction([
      db.$executeRaw`SELECT pg_advisory_xact_lock(1684632436, hashtext(${tenantId}::text))`,
      db.$queryRaw(Prisma.sql`
        WITH slots AS (
          SELECT count(*) AS dispatched, count(*) FILTER (WHERE status = 'queued') AS waiting FROM jobs
          WHERE tenant_id = ${tenantId} AND dispatched_at IS NOT NULL AND status IN ('queued', 'running', 'cancelling')
        ),
        next AS (
          SELECT id FROM jobs WHERE tenant_id = ${tenantId} AND status = 'queued' AND dispatched_at IS NULL
          ORDER BY priority DESC, created_at, id
          LIMIT (SELECT greatest(0, least(4 - dispatched, 1 - waiting)) FROM slots)
        )
        UPDATE jobs j SET dispatched_at = now() FROM next WHERE j.id = next.id RETURNING j.id, j.attempts`),
    ]);

  const measure = async (name: string, fn: () => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await fn();
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < ops; i++) {
      const t0 = performance.now();
      await fn();
      times.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2);
    console.log(`| ${name} | ${ops} | ${at(0.5)} | ${at(0.99)} | ${((cpu.user + cpu.system) / 1000 / ops).toFixed(2)} |`);
  };
  console.log('| call | n | p50 ms | p99 ms | CPU ms/call |\n|---|---|---|---|---|');
  await measure('admitJobs() (admit_jobs, one statement)', () => admitJobs({ ...admission, db, queue, log }, { tenantId }));
  await measure('lock + UPDATE as a Prisma batch transaction', asTransaction);
  await measure('submitJob() (includes admitJobs)', submit);
} finally {
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  redis.disconnect();
  await db.$disconnect();
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
}
