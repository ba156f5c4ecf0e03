/** Helpers the fault scenarios share: submitting, waiting on stored events, finding a job's processes. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import type { Db } from '../../src/db/client.js';
import type { JobEventObject } from '../../src/jobs/events.js';
import { isTerminal } from '../../src/jobs/status.js';
import { request, waitFor } from '../support/http.js';
import type { WorkerProcess } from '../support/stack.js';

/** Settings every fault stack runs with (overload shedding is off in every test stack: see startStack). */
export const FAULT_ENV = { JOB_ATTEMPTS: '3' } as const;

/** A job of a few seconds that trains its teacher, then distils: a kill can land in either phase. */
export function smallJob(name: string, studentEpochs = 3) {
  return {
    name,
    dataset: { source: 'builtin:synthetic', options: { samples: 1200, classes: 4, features: 16 } },
    teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 2, learning_rate: 0.01 } },
    student: { model: { preset: 'mlp-tiny' }, training: { epochs: studentEpochs, learning_rate: 0.01, batch_size: 32 } },
    distillation: { temperature: 4, alpha: 0.7 },
    seed: 11,
  };
}

/** POSTs each body and asserts 201: the returned ids are the jobs the invariants hold the server to. */
export async function submitAll(url: string, bodies: object[]): Promise<string[]> {
  const ids: string[] = [];
  for (const body of bodies) {
    const created = await request(url, 'POST', '/v1/jobs', body);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    ids.push(created.body.id);
  }
  return ids;
}

export async function untilTerminal(url: string, id: string, timeoutMs = 240_000): Promise<{ status: string; attempts: number; error?: { code: string } }> {
  return waitFor(
    `job ${id} to end`,
    async () => {
      const job = await request(url, 'GET', `/v1/jobs/${id}`).catch(() => undefined);
      return job?.status === 200 && isTerminal(job.body.status) && job.body;
    },
    timeoutMs,
    250,
  );
}

export async function untilAllTerminal(url: string, ids: string[], timeoutMs = 300_000): Promise<void> {
  for (const id of ids) await untilTerminal(url, id, timeoutMs);
}

export interface StoredEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

/** Polls Postgres (not the API: it may be the thing under test) until a stored event of the job matches. */
export async function untilEvent(db: Db, jobId: string, match: (e: StoredEvent) => boolean, what: string, timeoutMs = 180_000): Promise<StoredEvent> {
  return waitFor(
    `${jobId}: ${what}`,
    async () => {
      const rows = await db.jobEvent.findMany({ where: { jobId }, orderBy: { seq: 'asc' } });
      return rows.map((r) => ({ seq: r.seq, type: r.type, data: r.data as Record<string, unknown> })).find(match);
    },
    timeoutMs,
    100,
  );
}

/** A batch's metrics while distilling, after the given epoch's checkpoint: the job is mid-epoch. */
export const midDistillation =
  (afterEpoch = 1) =>
  (e: StoredEvent) =>
    e.type === 'metrics' && e.data.phase === 'distilling' && Number(e.data.epoch) > afterEpoch;

/** The pid of the training child a worker forked for this attempt of the job. */
export async function childPid(worker: WorkerProcess, jobId: string, attempt = 1): Promise<number> {
  const line = await worker.waitForLog((l) => l.jobId === jobId && l.msg === 'training child started' && l.attempt === attempt, 180_000);
  return line.childPid as number;
}

/** Which of the workers started the job's first attempt (the other one did not). */
export async function workerRunning(workers: WorkerProcess[], jobId: string, timeoutMs = 180_000): Promise<WorkerProcess> {
  return waitFor(
    `a worker to start ${jobId}`,
    async () => workers.find((w) => w.logs.some((l) => l.jobId === jobId && l.msg === 'training child started')),
    timeoutMs,
    100,
  );
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resident memory of a process, from /proc (Linux), in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  assert.ok(Number.isFinite(kib), `no VmRSS for ${pid}`);
  return kib / 1024;
}

/** One line per job for the test log: status, attempts, events. */
export function describeJobs(summaries: { id: string; status: string; attempts: number; events: number }[]): string {
  return summaries.map((s) => `${s.id} ${s.status} attempts=${s.attempts} events=${s.events}`).join('; ');
}

/**
 * A WebSocket client that follows one job across API restarts the way a real one should: on any close
 * but the normal one after the terminal event, it reconnects with `after` = the last seq it saw.
 */
export class ReconnectingFollower {
  readonly events: JobEventObject[] = [];
  /** Close codes of the connections that ended without the job's end. */
  readonly interruptions: number[] = [];
  /** Messages that did not carry the next seq (a gap or a repeat). */
  readonly outOfOrder: string[] = [];
  readonly done: Promise<void>;
  private socket: WebSocket | undefined;
  private stopped = false;

  constructor(
    private readonly wsUrl: string,
    private readonly jobId: string,
    private readonly key: string,
  ) {
    this.done = this.run();
  }

  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  stop(): void {
    this.stopped = true;
    this.socket?.terminate();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const code = await this.connectOnce();
      const last = this.events.at(-1);
      if (code === 1000 && last?.type === 'status' && isTerminal(String(last.data.status))) return;
      if (code !== undefined) this.interruptions.push(code);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** One connection; resolves with its close code, or undefined when it could not connect. */
  private connectOnce(): Promise<number | undefined> {
    return new Promise((resolve) => {
      const socket = new WebSocket(`${this.wsUrl}/v1/jobs/${this.jobId}/events?after=${this.lastSeq}`, { headers: { authorization: `Bearer ${this.key}` } });
      this.socket = socket;
      let opened = false;
      socket.on('open', () => (opened = true));
      socket.on('message', (raw) => {
        const event = JSON.parse(String(raw)) as JobEventObject;
        if (event.seq !== this.lastSeq + 1) this.outOfOrder.push(`got ${event.seq} after ${this.lastSeq}`);
        if (event.seq > this.lastSeq) this.events.push(event);
      });
      socket.on('error', () => {}); // refused while the API is down: 'close' follows
      socket.on('close', (code) => resolve(opened ? code : undefined));
    });
  }
}

/** A job's stored events with their data spread out: `{ seq, type, status, attempt, phase, epoch, … }`. */
export type FlatEvent = { seq: number; type: string } & Record<string, unknown>;

export async function flatEvents(db: Db, jobId: string): Promise<FlatEvent[]> {
  const rows = await db.jobEvent.findMany({ where: { jobId }, orderBy: { seq: 'asc' } });
  return rows.map((r) => ({ ...(r.data as Record<string, unknown>), seq: r.seq, type: r.type }));
}

/**
 * What the attempt after a crash did: it did not train the teacher again, and its first distillation
 * epoch came after `checkpointEpoch` (the checkpoint it resumed from).
 */
export function assertResumedAfter(events: FlatEvent[], attempt: number, checkpointEpoch: number): void {
  const start = events.findIndex((e) => e.type === 'status' && e.status === 'running' && e.attempt === attempt);
  assert.ok(start >= 0, `attempt ${attempt} started`);
  const resumed = events.slice(start);
  assert.ok(!resumed.some((e) => e.type === 'phase' && e.phase === 'training_teacher'), 'the teacher was not trained again');
  const firstEpoch = resumed.find((e) => e.type === 'epoch' && e.phase === 'distilling');
  assert.ok(firstEpoch && Number(firstEpoch.epoch) > checkpointEpoch, `resumed after epoch ${checkpointEpoch} (first epoch: ${firstEpoch?.epoch})`);
}
