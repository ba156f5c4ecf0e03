import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import WebSocket from 'ws';
import type { Db } from '../../src/db/client.js';
import { createRedis } from '../../src/redis.js';
import { appendEvents, eventsChannel } from '../../src/jobs/events.js';
import { type Summary, summarize } from './stats.js';

/** What the bench reads from outside the API between two moments (see load.ts `probe`). */
export interface Probe {
  /** Committed + rolled back transactions in the bench database (pg_stat_database): one per Prisma query outside a transaction. */
  dbXacts: number;
  /** CPU seconds of the API process. */
  apiCpu: number;
  /** CPU seconds of this process (the clients and the publisher). */
  benchCpu: number;
  /** The API's event-loop delay since the previous probe. */
  apiLoop: { p50: number; p99: number; max: number };
  at: number;
}

export interface FanoutOptions {
  wsUrl: string;
  redisUrl: string;
  apiKey: string;
  jobId: string;
  db: Db;
  /** The producer connection appendEvents publishes on, like a worker's. */
  redis: Redis;
  channelPrefix: string;
  /** Clients following the job, growing: connect up to each level, then measure. */
  clientLevels: number[];
  events: number;
  /** Events per second, one run each at every client level. */
  rates: number[];
  /** Upgrades in flight at once while connecting. */
  connectConcurrency: number;
  /** Seconds of quiet after connecting, measured: what idle followers cost. */
  idleSeconds: number;
  probe: () => Promise<Probe>;
  /** Wraps the event runs at the largest level (not the connecting): the bench profiles the API there. */
  around?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface Costs {
  seconds: number;
  dbXactsPerSecond: number;
  apiCpuPerSecond: number;
  benchCpuPerSecond: number;
  apiLoop: Probe['apiLoop'];
}

export interface FanoutRun {
  clients: number;
  rate: number;
  events: number;
  /** Just before appendEvents → each client's `message` callback (every client × event pair). */
  delivery: Summary;
  /** Just before appendEvents → appendEvents resolved (Postgres transaction + PUBLISH acknowledged). */
  append: Summary;
  /** Just before appendEvents → a bare Redis subscriber in the bench process got the message. */
  redisSubscriber: Summary;
  /** Per event: last client's receipt − first client's receipt. */
  spread: Summary;
  /** Client × event pairs not received within 10 s of the last event. */
  missing: number;
  costs: Costs;
}

export interface FanoutLevel {
  clients: number;
  connectSeconds: number;
  /** Clients that could not connect, by reason. */
  failures: Record<string, number>;
  idle: Costs;
  runs: FanoutRun[];
}

export interface FanoutResult {
  levels: FanoutLevel[];
  /** Sockets closed by the server while followed, by close code. */
  closedByServer: Record<number, number>;
  /** One response body per connect-failure reason. */
  failureSamples: Record<string, string>;
  duplicates: number;
  outOfOrder: number;
}

/** A realistic epoch event, as the worker stores it (job-runner's toJobEvent), with a bench marker. */
function epochEvent(run: number, i: number, n: number) {
  return {
    phase: 'student',
    model: 'student',
    epoch: i + 1,
    epochs: n,
    train_loss: 0.4 + 1 / (i + 2),
    train_accuracy: 0.9 - 1 / (i + 12),
    val_loss: 0.45 + 1 / (i + 2),
    val_accuracy: 0.88 - 1 / (i + 12),
    learning_rate: 0.001,
    elapsed_seconds: i * 0.75,
    progress: { percent: (100 * (i + 1)) / n, eta_seconds: (n - i - 1) * 0.75 },
    bench: { run, i },
  };
}

function costs(a: Probe, b: Probe): Costs {
  const seconds = (b.at - a.at) / 1000;
  return {
    seconds,
    dbXactsPerSecond: (b.dbXacts - a.dbXacts) / seconds,
    apiCpuPerSecond: (b.apiCpu - a.apiCpu) / seconds,
    benchCpuPerSecond: (b.benchCpu - a.benchCpu) / seconds,
    apiLoop: b.apiLoop,
  };
}

export async function fanout(o: FanoutOptions): Promise<FanoutResult> {
  const url = `${o.wsUrl}/v1/jobs/${o.jobId}/events?after=0`;
  // t0 of each event of the current run, set just before appendEvents; receipts[i] = one per client.
  let currentRun = -1;
  let sentAt: number[] = [];
  let receipts: number[][] = [];
  let redisReceipts: number[] = [];
  let lastAppended = 1; // the job's stored `queued` event
  const lastSeqs: number[] = [];
  let duplicates = 0;
  let outOfOrder = 0;
  const sockets: WebSocket[] = [];
  /** Sockets the server closed after they opened, by close code; a response body per failure reason. */
  const closed: Record<number, number> = {};
  const samples: Record<string, string> = {};
  let closing = false;

  const onMessage = (client: number) => (raw: WebSocket.RawData) => {
    const now = performance.now();
    const event = JSON.parse(raw.toString()) as { seq: number; data: { bench?: { run: number; i: number } } };
    const last = lastSeqs[client] ?? 0;
    if (event.seq <= last) duplicates++;
    else if (event.seq !== last + 1) outOfOrder++;
    lastSeqs[client] = Math.max(last, event.seq);
    const mark = event.data.bench;
    // Catch-up reads of earlier runs (clients connected later) are not deliveries of this run.
    if (!mark || mark.run !== currentRun) return;
    const t0 = sentAt[mark.i];
    if (t0 !== undefined) receipts[mark.i]!.push(now - t0);
  };

  // A bare subscriber: when Redis hands the message on, before the API does anything with it.
  const subscriber = createRedis(o.redisUrl, 'subscriber', 'bench-fanout');
  subscriber.on('message', (_channel: string, message: string) => {
    const now = performance.now();
    const mark = (JSON.parse(message) as { data: { bench?: { run: number; i: number } } }).data.bench;
    const t0 = mark && mark.run === currentRun ? sentAt[mark.i] : undefined;
    if (t0 !== undefined) redisReceipts.push(now - t0);
  });
  await subscriber.subscribe(eventsChannel(o.channelPrefix, o.jobId));

  const job = await o.db.job.findUniqueOrThrow({ where: { id: o.jobId }, select: { attempts: true } });
  const levels: FanoutLevel[] = [];
  try {
    for (const [levelIndex, level] of o.clientLevels.entries()) {
      // Connect up to this level, a bounded number of upgrades at a time.
      const failures: Record<string, number> = {};
      const t0 = performance.now();
      const connectOne = async () => {
        while (sockets.length < level) {
          const client = sockets.length;
          await new Promise<void>((resolve) => {
            const socket = new WebSocket(url, { headers: { authorization: `Bearer ${o.apiKey}` }, perMessageDeflate: false, handshakeTimeout: 30_000 });
            sockets.push(socket);
            let settled = false;
            const fail = (reason: string) => {
              if (settled) return;
              settled = true;
              failures[reason] = (failures[reason] ?? 0) + 1;
              resolve();
            };
            socket.on('message', onMessage(client));
            let opened = false;
            socket.once('open', () => {
              opened = true;
              settled = true;
              resolve();
            });
            socket.on('error', (err) => fail((err as NodeJS.ErrnoException).code ?? err.message));
            socket.once('unexpected-response', (_req, res) => {
              const reason = `HTTP ${res.statusCode}`;
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                samples[reason] ??= Buffer.concat(chunks).toString().slice(0, 300);
              });
              fail(reason);
              socket.terminate();
            });
            socket.on('close', (code) => {
              if (opened && !closing) closed[code] = (closed[code] ?? 0) + 1;
            });
          });
        }
      };
      await Promise.all(Array.from({ length: o.connectConcurrency }, connectOne));
      const open = () => sockets.filter((s) => s.readyState === WebSocket.OPEN);
      // Ready: every open client has everything stored so far.
      const readyBy = performance.now() + 60_000;
      const caughtUp = () => sockets.every((s, c) => s.readyState !== WebSocket.OPEN || (lastSeqs[c] ?? 0) >= lastAppended);
      while (!caughtUp() && performance.now() < readyBy) await sleep(20);
      const connectSeconds = (performance.now() - t0) / 1000;

      // Followers with nothing to deliver: what they cost while the job is quiet.
      await sleep(500);
      const idleStart = await o.probe();
      await sleep(o.idleSeconds * 1000);
      const idle = costs(idleStart, await o.probe());

      const runs: FanoutRun[] = [];
      const wrap = levelIndex === o.clientLevels.length - 1 && o.around ? o.around : <T>(fn: () => Promise<T>) => fn();
      await wrap(async () => {
        for (const rate of o.rates) {
          const clients = open().length;
          currentRun++;
          sentAt = [];
          receipts = Array.from({ length: o.events }, () => []);
          redisReceipts = [];
          const appendTimes: number[] = [];
          const before = await o.probe();
          const start = performance.now() + 20;
          for (let i = 0; i < o.events; i++) {
            // A steady schedule: event i at start + i/rate, whatever the previous one took.
            const wait = start + (i * 1000) / rate - performance.now();
            if (wait > 0) await sleep(wait);
            const data = epochEvent(currentRun, i, o.events);
            const t = performance.now();
            sentAt[i] = t;
            // As the worker does (AttemptStore.record): fenced on the attempt, progress on the job row.
            const [stored] = await appendEvents(o.db, o.redis, o.channelPrefix, o.jobId, [{ type: 'epoch', data }], {
              attempt: job.attempts,
              update: { progress: data.progress },
            });
            appendTimes.push(performance.now() - t);
            lastAppended = stored?.seq ?? lastAppended;
          }
          const expected = clients * o.events;
          const doneBy = performance.now() + 10_000;
          const received = () => receipts.reduce((n, r) => n + r.length, 0);
          while (received() < expected && performance.now() < doneBy) await sleep(20);
          const after = await o.probe();
          runs.push({
            clients,
            rate,
            events: o.events,
            delivery: summarize(receipts.flat()),
            append: summarize(appendTimes),
            redisSubscriber: summarize(redisReceipts),
            spread: summarize(receipts.filter((r) => r.length > 0).map((r) => Math.max(...r) - Math.min(...r))),
            missing: expected - received(),
            costs: costs(before, after),
          });
          await sleep(1000); // quiet between runs
        }
      });
      levels.push({ clients: open().length, connectSeconds, failures, idle, runs });
    }
  } finally {
    closing = true;
    subscriber.disconnect();
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.readyState === WebSocket.CLOSED) return resolve();
            const timer = setTimeout(() => {
              s.terminate();
              resolve();
            }, 5000);
            s.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            s.close();
          }),
      ),
    );
  }
  return { levels, duplicates, outOfOrder, closedByServer: closed, failureSamples: samples };
}
