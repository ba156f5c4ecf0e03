// `npm run bench:load`: the API under load, beside the floor it cannot beat, and WebSocket fan-out.
//
//   1. HTTP: POST /v1/jobs and GET /v1/jobs/{id} at 1, 4, 16, 64 requests in flight (closed loop,
//      keep-alive), with throughput, p50/p99 and errors; at each level, in the same minutes, the floor
//      measured directly in this process: one Prisma transaction inserting the job row and its first
//      event + one BullMQ add (what submitJob must do at least), and one findFirst (what a GET must do),
//      and submitJob() itself (the route's core without HTTP, auth, rate limit, validation, quotas).
//   2. WebSocket fan-out: N clients follow one job; events are appended the way the worker does
//      (appendEvents: Postgres, then Redis PUBLISH on the server's channel prefix); delivery latency is
//      measured from just before appendEvents to each client's `message` callback.
//
// The API runs in its own process (bench/load/server.ts, LOG_LEVEL info as deployed, its log to
// /dev/null); this process is the load generator, the "worker" and the floor. Everything it creates
// is its own: a fresh migrated database and a unique queue name, dropped/obliterated at the end.
// Loopback only; every phase is bounded by time and count, and a watchdog ends the run.
//
// Options: --levels 1,4,16,64  --seconds 5 (per phase)  --max-ops 4000 (per phase)  --tenants 50
//          --breakdown 50 (rounds of the one-at-a-time step table)
//          --clients 100,1000 (fan-out: connect up to each count and measure)  --events 50
//          --rates 10,50 (events/s; one fan-out run per rate)  --idle-seconds 10
//          --log-level info  --cpu-prof [--cpu-prof-dir DIR] (profile the API process; default
//          $TMPDIR/distill-bench-profiles; read it with `tsx bench/load/profile-summary.ts FILE`)
//          --source-maps (keep tsx's source-mapped stack traces in the API; off by default, as deployed)
//          --skip-http  --skip-ws  --out FILE.json  --watchdog 900 (seconds)
// The fan-out needs ~1,200 file descriptors in this process and in the API's: `ulimit -n 4096` first
// if `ulimit -n` says less (the script checks).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createApiKey, verifyApiKey } from '../src/auth/api-keys.js';
import { createDb } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { newId } from '../src/ids.js';
import { tenantUsage } from '../src/jobs/tenant-usage.js';
import { submitJob } from '../src/jobs/submit.js';
import { pickEngineSpec } from '../src/ml/spec.js';
import { channelPrefixFor, createTrainQueue, enqueueTrainJob } from '../src/queue/queue.js';
import { createWebhookQueue } from '../src/queue/webhooks.js';
import { createRedis } from '../src/redis.js';
import { databaseUrl, PG_ADMIN_URL, REDIS_URL } from '../test/support/env.js';
import { QUICK_JOB } from '../test/support/specs.js';
import { startApiProcess } from './load/api-process.js';
import { closedLoop, httpClient, type LoopResult } from './load/closed-loop.js';
import { fanout, type FanoutResult, type Probe } from './load/fanout.js';
import { ms, summarize } from './load/stats.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const flag = (name: string) => argv.includes(`--${name}`);
const numbers = (s: string) =>
  s
    .split(',')
    .map(Number)
    .filter((n) => Number.isFinite(n) && n > 0);

const LEVELS = numbers(option('levels', '1,4,16,64'));
const SECONDS = Number(option('seconds', '5'));
const MAX_OPS = Number(option('max-ops', '4000'));
const CLIENT_LEVELS = numbers(option('clients', '100,1000'));
const IDLE_SECONDS = Number(option('idle-seconds', '10'));
const EVENTS = Number(option('events', '50'));
const RATES = numbers(option('rates', '10,50'));
const TENANTS = Number(option('tenants', '50'));
const BREAKDOWN = Number(option('breakdown', '50'));
const LOG_LEVEL = option('log-level', 'info');
const CPU_PROF = flag('cpu-prof');
const OUT = option('out', '');
/** The whole run ends by itself within this, cleanup included. */
const WATCHDOG_S = Number(option('watchdog', '900'));

const DB_PREFIX = 'distill_bench_';
const STALE_AFTER_S = 3 * 3600;

const log = (line: string) => process.stderr.write(`${line}\n`);
const sh = (cmd: string) => {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
};

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

interface Phase {
  name: string;
  level: number;
  result: LoopResult;
  /** CPU ms per operation in the API process and in this one, over the phase. */
  apiCpuMs: number;
  benchCpuMs: number;
  load1: number;
  /** The API's event-loop delay p99 over the phase, ms. */
  apiLoopP99: number;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => log(`cleanup: ${(err as Error).message}`));
  })();
  return cleaning;
}
const watchdog = setTimeout(() => {
  log(`watchdog: the run passed ${WATCHDOG_S}s; cleaning up and exiting`);
  void cleanup().finally(() => process.exit(3));
}, WATCHDOG_S * 1000);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main() {
  const machine = {
    cpu: sh("lscpu | sed -n 's/^Model name: *//p' | head -1"),
    vcpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    fdLimit: sh('ulimit -n'),
    uptimeBefore: sh('uptime'),
    commit: sh('git rev-parse --short HEAD'),
    /** Others' uncommitted changes under src/ are measured too: the API runs from the working tree. */
    uncommittedSrcFiles: Number(sh('git status --porcelain -- src | wc -l')),
  };
  log(`machine: ${JSON.stringify(machine)}`);
  if (!flag('skip-ws') && Number(machine.fdLimit) < Math.max(...CLIENT_LEVELS) + 200) {
    throw new Error(`ulimit -n is ${machine.fdLimit}: the fan-out needs ${Math.max(...CLIENT_LEVELS) + 200}; run \`ulimit -n 4096\` first`);
  }

  // A database of our own; remove what a dead run left behind.
  const stamp = Math.floor(Date.now() / 1000);
  const dbName = `${DB_PREFIX}${stamp}_${randomBytes(3).toString('hex')}`;
  await admin(async (c) => {
    const { rows } = await c.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${DB_PREFIX}%`]);
    for (const { datname } of rows as { datname: string }[]) {
      const created = Number(datname.slice(DB_PREFIX.length).split('_')[0]);
      if (Number.isFinite(created) && stamp - created > STALE_AFTER_S) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
    }
    await c.query(`CREATE DATABASE ${dbName}`);
  });
  cleanups.push(() => admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)));
  const url = databaseUrl(dbName);
  await migrate(url);
  const queueName = `bench${randomBytes(5).toString('hex')}`;
  const channelPrefix = channelPrefixFor(queueName);
  const artifactDir = mkdtempSync(join(tmpdir(), 'distill-bench-'));
  cleanups.push(async () => rmSync(artifactDir, { recursive: true, force: true }));

  // The API, in its own process.
  const profileDir = option('cpu-prof-dir', join(tmpdir(), 'distill-bench-profiles'));
  if (CPU_PROF) mkdirSync(profileDir, { recursive: true });
  const api = await startApiProcess({
    ...process.env,
    DATABASE_URL: url,
    REDIS_URL,
    QUEUE_NAME: queueName,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL,
    ARTIFACT_DIR: artifactDir,
    RATE_LIMIT_PER_MINUTE: '100000000',
    MAX_ACTIVE_JOBS_PER_TENANT: '100000000',
    MAX_SOCKETS_PER_TENANT: '100000000',
    ...(flag('source-maps') ? { BENCH_SOURCE_MAPS: '1' } : {}),
  });
  cleanups.push(() => api.stop());
  const { url: apiUrl, pid: apiPid, ask } = api;
  log(`API ${apiUrl} (pid ${apiPid}), database ${dbName}, queue ${queueName}`);
  const apiLoop = api.loop;
  /** Profiles the API process over what runs inside (only with --cpu-prof). */
  const profiled = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (!CPU_PROF) return fn();
    await ask({ profile: 'start' }, 'profiled');
    try {
      return await fn();
    } finally {
      const file = join(profileDir, `api-${name}-${stamp}.cpuprofile`);
      await ask({ profile: 'stop', file }, 'profiled');
      log(`API profile: ${file}`);
    }
  };

  // The floor's own connections, sized like the API's (Prisma pool 10, one Redis producer connection).
  const db = createDb(url, 10);
  const redis = createRedis(REDIS_URL, 'producer', 'bench');
  const queue = createTrainQueue(queueName, redis);
  cleanups.push(async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    const webhooks = createWebhookQueue(queueName, redis);
    await webhooks.obliterate({ force: true }).catch(() => {});
    await webhooks.close();
    // Rate-limit counters and anything else under the channel prefix.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${channelPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    await queue.close();
    redis.disconnect();
    await db.$disconnect();
  });
  const keys = await Promise.all(Array.from({ length: TENANTS }, (_, i) => createApiKey(db, `bench-${i}`)));
  const key = keys[0]!;
  const floorTenant = (await createApiKey(db, 'bench-floor')).tenantId;
  const spec = pickEngineSpec(QUICK_JOB) as unknown as Record<string, unknown>;
  const body = JSON.stringify(QUICK_JOB);

  const ops = {
    /** The floor: the job row and its first event in one transaction, then one BullMQ add. */
    floor: async () => {
      const id = newId('job');
      await db.$transaction(async (tx) => {
        await tx.job.create({
          data: { id, tenantId: floorTenant, name: QUICK_JOB.name, spec: spec as never, metadata: {}, priority: 'normal', lastEventSeq: 1 },
        });
        await tx.jobEvent.create({ data: { jobId: id, seq: 1, type: 'status', data: { status: 'queued' } } });
      });
      await enqueueTrainJob(queue, id, { attempts: 3 });
      return { ok: true, code: 'ok' };
    },
    /** The route's core as the route calls it, without HTTP around it. */
    submitJob: async () => {
      await submitJob(
        {
          db,
          redis,
          queue,
          channelPrefix,
          admission: { maxDispatched: 4, maxWaiting: 1, attempts: 3 },
          maxActiveJobs: Number.MAX_SAFE_INTEGER,
          maxStoredBytes: Number.MAX_SAFE_INTEGER,
          log: { warn: () => {} },
        },
        { tenantId: floorTenant, name: QUICK_JOB.name, spec, metadata: {}, priority: 'normal', references: { models: [] } },
      );
      return { ok: true, code: 'ok' };
    },
  };

  const phases: Phase[] = [];
  const measure = async (
    name: string,
    level: number,
    op: (i: number) => Promise<{ ok: boolean; code: string }>,
    limits = { seconds: SECONDS, maxOps: MAX_OPS },
  ) => {
    await apiLoop();
    const api0 = cpuSecondsOf(apiPid);
    const bench0 = process.cpuUsage();
    const result = await closedLoop(level, limits, op);
    const loopDelay = await apiLoop();
    const done = result.ok + result.errors;
    const benchCpu = process.cpuUsage(bench0);
    const phase: Phase = {
      name,
      level,
      result,
      apiCpuMs: ((cpuSecondsOf(apiPid) - api0) * 1000) / done,
      benchCpuMs: (benchCpu.user + benchCpu.system) / 1000 / done,
      load1: loadavg()[0]!,
      apiLoopP99: loopDelay.p99,
    };
    const s = summarize(result.latencies);
    log(
      `  ${name.padEnd(10)} c=${String(level).padStart(2)}: ${(result.ok / result.seconds).toFixed(0).padStart(5)}/s p50 ${ms(s.p50)} p99 ${ms(s.p99)} ms, errors ${result.errors} ${JSON.stringify(result.codes)}, CPU ms/op: API ${phase.apiCpuMs.toFixed(2)} bench ${phase.benchCpuMs.toFixed(2)}, API loop p99 ${ms(phase.apiLoopP99)} ms, load ${phase.load1.toFixed(1)}`,
    );
    return phase;
  };

  const results: {
    machine: typeof machine;
    phases: Phase[];
    breakdown?: Record<string, ReturnType<typeof summarize>>;
    fanout?: FanoutResult;
    notes: Record<string, unknown>;
  } = { machine, phases, notes: {} };
  let fanoutJob = '';
  if (!flag('skip-http')) {
    const client = httpClient(apiUrl, { accept: 'application/json' }, Math.max(...LEVELS));
    cleanups.push(async () => client.close());
    // Requests go round robin over the tenants' keys, so no tenant's backlog grows far past the
    // default active-job quota (100) that every POST counts.
    const auth = (t: number) => ({ authorization: `Bearer ${keys[t % keys.length]!.key}` });
    const created: { id: string; tenant: number }[] = [];
    const post = async (i: number) => {
      const res = await client.request('POST', '/v1/jobs', body, auth(i));
      if (res.status === 201) created.push({ id: (JSON.parse(res.body) as { id: string }).id, tenant: i % keys.length });
      return { ok: res.status === 201, code: String(res.status) };
    };
    // Reads spread over the jobs created so far, in a scattered order, each with its tenant's key.
    const pick = (i: number) => created[(i * 7919) % created.length]!;
    const get = async (i: number) => {
      const job = pick(i);
      const res = await client.request('GET', `/v1/jobs/${job.id}`, undefined, auth(job.tenant));
      return { ok: res.status === 200, code: String(res.status) };
    };
    const getFloor = async (i: number) => {
      const job = pick(i);
      const row = await db.job.findFirst({ where: { id: job.id, tenantId: keys[job.tenant]!.tenantId } });
      return { ok: row !== null, code: row ? 'ok' : 'missing' };
    };

    log('warm-up (not recorded)');
    const warm = { seconds: 1.5, maxOps: 500 };
    for (const op of [ops.floor, ops.submitJob, post, getFloor, get]) await closedLoop(4, warm, op);

    // One request at a time, the POST's steps measured one by one, interleaved so they share the
    // same minutes: where a POST's time goes, step by step (the rate-limit check, one Redis
    // round trip, is not reproduced here).
    const floorTenant0 = floorTenant;
    const steps: Record<string, () => Promise<unknown>> = {
      'POST /v1/jobs': () => post(0),
      'auth: verifyApiKey': () => verifyApiKey(db, keys[0]!.key),
      'quota: tenantUsage (active jobs + stored bytes, one statement)': () => tenantUsage(db, keys[0]!.tenantId),
      'submitJob()': ops.submitJob,
      'floor (tx + add)': ops.floor,
      'floor: tx (job + event)': () =>
        db.$transaction(async (tx) => {
          const id = newId('job');
          await tx.job.create({
            data: { id, tenantId: floorTenant0, name: QUICK_JOB.name, spec: spec as never, metadata: {}, priority: 'normal', lastEventSeq: 1 },
          });
          await tx.jobEvent.create({ data: { jobId: id, seq: 1, type: 'status', data: { status: 'queued' } } });
        }),
      'floor: BullMQ add': () => enqueueTrainJob(queue, newId('job'), { attempts: 3 }),
      'Redis PUBLISH': () => redis.publish(`${channelPrefix}:bench`, '{}'),
      'GET /v1/jobs/{id}': () => get(0),
      'GET floor: findFirst': () => getFloor(0),
    };
    const stepTimes: Record<string, number[]> = Object.fromEntries(Object.keys(steps).map((k) => [k, []]));
    const stepErrors: Record<string, number> = {};
    log(`breakdown: ${BREAKDOWN} rounds of ${Object.keys(steps).length} steps, one at a time`);
    await profiled('breakdown', async () => {
      for (let round = 0; round < BREAKDOWN; round++) {
        for (const [name, step] of Object.entries(steps)) {
          const t = performance.now();
          try {
            await step();
            stepTimes[name]!.push(performance.now() - t);
          } catch (err) {
            stepErrors[name] = (stepErrors[name] ?? 0) + 1;
            if (stepErrors[name] === 1) log(`  ${name}: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      }
    });
    results.breakdown = Object.fromEntries(Object.entries(stepTimes).map(([k, v]) => [k, summarize(v)]));
    if (Object.keys(stepErrors).length) results.notes.breakdownErrors = stepErrors;
    for (const [name, s] of Object.entries(results.breakdown)) log(`  ${name.padEnd(26)} p50 ${ms(s.p50)} p90 ${ms(s.p90)} ms`);

    await profiled('http', async () => {
      for (const level of LEVELS) {
        log(`in flight: ${level}`);
        phases.push(await measure('floor', level, ops.floor));
        phases.push(await measure('submitJob', level, ops.submitJob));
        phases.push(await measure('POST', level, post));
        phases.push(await measure('GET floor', level, getFloor));
        phases.push(await measure('GET', level, get));
      }
    });
    // The quota check counts the tenant's active jobs on every POST: its cost at a deep backlog (the
    // floor tenant's jobs, all still queued).
    const where = { tenantId: floorTenant, status: { in: ['queued', 'running', 'cancelling'] as ('queued' | 'running' | 'cancelling')[] } };
    const active = await db.job.count({ where });
    const t = performance.now();
    for (let i = 0; i < 20; i++) await db.job.count({ where });
    const perCount = (performance.now() - t) / 20;
    const perTenant = Math.max(...keys.map((_, i) => created.filter((c) => c.tenant === i).length));
    results.notes.quotaCount = { activeJobs: active, msPerCount: perCount, apiTenants: keys.length, largestApiTenantJobs: perTenant };
    log(`quota count at ${active} active jobs: ${perCount.toFixed(2)} ms; API tenants ${keys.length}, largest ${perTenant} jobs`);
    fanoutJob = created.find((c) => c.tenant === 0)?.id ?? '';
    client.close();
  }

  if (!flag('skip-ws')) {
    if (!fanoutJob) {
      const client = httpClient(apiUrl, { authorization: `Bearer ${key.key}` }, 1);
      const res = await client.request('POST', '/v1/jobs', body);
      client.close();
      if (res.status !== 201) throw new Error(`POST /v1/jobs: ${res.status} ${res.body}`);
      fanoutJob = (JSON.parse(res.body) as { id: string }).id;
    }
    log(`fan-out: ${CLIENT_LEVELS.join(' → ')} clients on ${fanoutJob}, ${EVENTS} events at ${RATES.join(', ')}/s`);
    const probe = async (): Promise<Probe> => {
      const [row] = await db.$queryRaw<{ n: bigint }[]>`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`;
      const cpu = process.cpuUsage();
      return {
        dbXacts: Number(row?.n ?? 0),
        apiCpu: cpuSecondsOf(apiPid),
        benchCpu: (cpu.user + cpu.system) / 1e6,
        apiLoop: await apiLoop(),
        at: performance.now(),
      };
    };
    results.fanout = await fanout({
      wsUrl: apiUrl.replace(/^http/, 'ws'),
      redisUrl: REDIS_URL,
      apiKey: key.key,
      jobId: fanoutJob,
      db,
      redis,
      channelPrefix,
      clientLevels: CLIENT_LEVELS,
      events: EVENTS,
      rates: RATES,
      connectConcurrency: 20,
      idleSeconds: IDLE_SECONDS,
      probe,
      around: (fn) => profiled('fanout', fn),
    });
    for (const level of results.fanout.levels) {
      log(
        `  ${level.clients} clients: connected in ${level.connectSeconds.toFixed(1)} s, failures ${JSON.stringify(level.failures)}; idle: ${level.idle.dbXactsPerSecond.toFixed(0)} DB xacts/s, API CPU ${(100 * level.idle.apiCpuPerSecond).toFixed(0)}%`,
      );
      for (const r of level.runs) {
        log(
          `    ${r.rate}/s: delivery p50 ${ms(r.delivery.p50)} p99 ${ms(r.delivery.p99)} max ${ms(r.delivery.max)} ms; append p50 ${ms(r.append.p50)}; redis p50 ${ms(r.redisSubscriber.p50)}; missing ${r.missing}; API CPU ${(100 * r.costs.apiCpuPerSecond).toFixed(0)}%, loop p99 ${ms(r.costs.apiLoop.p99)} ms`,
        );
      }
    }
  }
  (machine as Record<string, unknown>).uptimeAfter = sh('uptime');
  await cleanup();
  print(results);
  if (OUT) writeFileSync(OUT, `${JSON.stringify(results, (k, v) => (k === 'latencies' ? undefined : v), 2)}\n`);
}

function print(r: {
  machine: Record<string, unknown>;
  phases: Phase[];
  breakdown?: Record<string, ReturnType<typeof summarize>>;
  fanout?: FanoutResult;
  notes: Record<string, unknown>;
}) {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `Machine: ${m.vcpus} vCPU ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}, ulimit -n ${m.fdLimit}; commit ${m.commit} + ${m.uncommittedSrcFiles} uncommitted files under src/`,
  );
  out.push(`Before: ${m.uptimeBefore}`);
  out.push(`After:  ${m.uptimeAfter}`);
  out.push('');
  const find = (name: string, level: number) => r.phases.find((p) => p.name === name && p.level === level);
  const cell = (p: Phase | undefined) => {
    if (!p) return '– | – | –';
    const s = summarize(p.result.latencies);
    return `${(p.result.ok / p.result.seconds).toFixed(0)} | ${ms(s.p50)} | ${ms(s.p99)}`;
  };
  const errs = (p: Phase | undefined) => (p ? `${((100 * p.result.errors) / Math.max(1, p.result.ok + p.result.errors)).toFixed(1)}%` : '–');
  const ratio = (a: Phase | undefined, b: Phase | undefined, q: 'p50' | 'p99') =>
    a && b ? `${(summarize(a.result.latencies)[q] / summarize(b.result.latencies)[q]).toFixed(1)}×` : '–';
  if (r.phases.length) {
    out.push(
      '| in flight | floor ops/s | p50 ms | p99 ms | submitJob() ops/s | p50 ms | p99 ms | POST /v1/jobs req/s | p50 ms | p99 ms | n | errors | POST/floor p50 | p99 | API CPU ms/POST | API loop p99 ms |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const level of LEVELS) {
      const f = find('floor', level);
      const s = find('submitJob', level);
      const p = find('POST', level);
      out.push(
        `| ${level} | ${cell(f)} | ${cell(s)} | ${cell(p)} | ${p?.result.ok ?? '–'} | ${errs(p)} | ${ratio(p, f, 'p50')} | ${ratio(p, f, 'p99')} | ${p?.apiCpuMs.toFixed(1) ?? '–'} | ${p ? ms(p.apiLoopP99) : '–'} |`,
      );
    }
    out.push('');
    out.push(
      '| in flight | findFirst ops/s | p50 ms | p99 ms | GET /v1/jobs/{id} req/s | p50 ms | p99 ms | n | errors | GET/floor p50 | p99 | API CPU ms/GET | API loop p99 ms |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const level of LEVELS) {
      const f = find('GET floor', level);
      const g = find('GET', level);
      out.push(
        `| ${level} | ${cell(f)} | ${cell(g)} | ${g?.result.ok ?? '–'} | ${errs(g)} | ${ratio(g, f, 'p50')} | ${ratio(g, f, 'p99')} | ${g?.apiCpuMs.toFixed(1) ?? '–'} | ${g ? ms(g.apiLoopP99) : '–'} |`,
      );
    }
    out.push('');
    out.push(`Load average (1 min) at the end of each phase: ${r.phases.map((p) => p.load1.toFixed(1)).join(', ')}`);
    out.push(`Quota count: ${JSON.stringify(r.notes.quotaCount)}`);
    out.push('');
  }
  if (r.breakdown) {
    out.push(`One request at a time, step by step (${BREAKDOWN} interleaved rounds):`);
    out.push('');
    out.push('| step | p50 ms | p90 ms |');
    out.push('|---|---|---|');
    for (const [name, s] of Object.entries(r.breakdown)) out.push(`| ${name} | ${ms(s.p50)} | ${ms(s.p90)} |`);
    out.push('');
  }
  if (r.fanout) {
    const f = r.fanout;
    out.push("WebSocket fan-out, one job; delivery = just before appendEvents → the client's message callback:");
    out.push('');
    out.push(
      '| clients | events/s | events | delivery p50 ms | p99 ms | max ms | missing | appendEvents p50 ms | Redis subscriber p50 ms | p99 ms | per-event spread p99 ms | API CPU | API CPU ms/event | API loop delay p99 ms | DB xacts/s | bench (clients) CPU |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const level of f.levels) {
      for (const x of level.runs) {
        out.push(
          `| ${x.clients} | ${x.rate} | ${x.events} | ${ms(x.delivery.p50)} | ${ms(x.delivery.p99)} | ${ms(x.delivery.max)} | ${x.missing} | ${ms(x.append.p50)} | ${ms(x.redisSubscriber.p50)} | ${ms(x.redisSubscriber.p99)} | ${ms(x.spread.p99)} | ${(100 * x.costs.apiCpuPerSecond).toFixed(0)}% | ${ms((1000 * x.costs.apiCpuPerSecond * x.costs.seconds) / x.events)} | ${ms(x.costs.apiLoop.p99)} | ${x.costs.dbXactsPerSecond.toFixed(0)} | ${(100 * x.costs.benchCpuPerSecond).toFixed(0)}% |`,
        );
      }
    }
    out.push('');
    for (const level of f.levels) {
      out.push(
        `- ${level.clients} clients: connected in ${level.connectSeconds.toFixed(1)} s (failures: ${JSON.stringify(level.failures)}); idle for ${level.idle.seconds.toFixed(0)} s: ${level.idle.dbXactsPerSecond.toFixed(0)} DB transactions/s, API CPU ${(100 * level.idle.apiCpuPerSecond).toFixed(0)}%, API loop delay p99 ${ms(level.idle.apiLoop.p99)} ms`,
      );
    }
    out.push(`- duplicates ${f.duplicates}, out of order ${f.outOfOrder}; closed by the server while followed: ${JSON.stringify(f.closedByServer)}`);
    for (const [reason, sample] of Object.entries(f.failureSamples)) out.push(`- ${reason} body: ${sample}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  async (err) => {
    log(`bench:load failed: ${(err as Error).stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
