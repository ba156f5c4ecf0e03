import type { Redis } from 'ioredis';
import { type Db, Prisma } from '../db/client.js';
import { newId } from '../ids.js';
import { dropCheckpoints, pruneCheckpoints } from '../jobs/checkpoints.js';
import { appendEvents, type JobEventObject, type NewEvent, publishEvents } from '../jobs/events.js';
import { storedResources } from '../jobs/references.js';
import type { JobError } from '../jobs/status.js';
import type { JobModel } from '../resources/model-files.js';
import { registerJobModels } from '../resources/models.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import type { StoredFile } from './protocol.js';

export interface StartedAttempt {
  attempt: number;
  tenantId: string;
  spec: unknown;
  startedAt: Date;
  maxRuntimeSeconds: number | null;
}

export type StartResult = { kind: 'started'; run: StartedAttempt } | { kind: 'skip'; status: string } | { kind: 'cancelled' };

type Tx = Prisma.TransactionClient;

/**
 * Every Postgres write a worker makes for a job. Writes after the start are fenced on the attempt
 * number: once another attempt has started, a stale one can change nothing.
 */
export class AttemptStore {
  constructor(
    private readonly db: Db,
    private readonly redis: Redis,
    private readonly channelPrefix: string,
    /** Where checkpoints are removed from; without one (tests of the rows alone) files are left alone. */
    private readonly store?: ArtifactStore,
  ) {}

  /** Claims the next attempt, unless the job ended or is being cancelled meanwhile. */
  async start(jobId: string): Promise<StartResult> {
    const result = await this.claim(jobId);
    if (result.kind === 'cancelled') await this.dropCheckpoints(jobId);
    return result;
  }

  private claim(jobId: string): Promise<StartResult> {
    return this.inTransaction(jobId, async (tx, emit) => {
      await tx.$queryRaw`SELECT 1 FROM jobs WHERE id = ${jobId} FOR UPDATE`;
      const job = await tx.job.findUnique({ where: { id: jobId } });
      if (!job) return { kind: 'skip', status: 'missing' };
      if (job.status === 'cancelling') {
        await emit([{ type: 'status', data: { status: 'cancelled' } }], undefined, { status: 'cancelled', finishedAt: new Date() });
        return { kind: 'cancelled' };
      }
      if (job.status !== 'queued' && job.status !== 'running') return { kind: 'skip', status: job.status };
      const attempt = job.attempts + 1;
      const startedAt = job.startedAt ?? new Date();
      await emit([{ type: 'status', data: { status: 'running', attempt } }], undefined, { attempts: attempt, status: 'running', startedAt });
      return { kind: 'started', run: { attempt, tenantId: job.tenantId, spec: job.spec, startedAt, maxRuntimeSeconds: job.maxRuntimeSeconds } };
    });
  }

  events(jobId: string, attempt: number, events: NewEvent[], update?: Prisma.JobUpdateInput) {
    return appendEvents(this.db, this.redis, this.channelPrefix, jobId, events, { attempt, update });
  }

  /** Storage keys of the datasets and models the job names (the child has no database). */
  resources(run: StartedAttempt) {
    return storedResources(this.db, run.tenantId, run.spec);
  }

  latestCheckpoint(jobId: string) {
    return this.db.checkpoint.findFirst({ where: { jobId }, orderBy: { seq: 'desc' } });
  }

  saveCheckpoint(jobId: string, attempt: number, c: { seq: number; key: string; bytes: number; phase: string; epoch: number }) {
    return this.inTransaction(jobId, async (tx, emit) => {
      // Already stored: this is a repeat of a write whose commit's answer was lost.
      if (await tx.checkpoint.findUnique({ where: { jobId_seq: { jobId, seq: c.seq } }, select: { seq: true } })) return;
      await emit([{ type: 'checkpoint', data: { phase: c.phase, epoch: c.epoch, seq: c.seq, bytes: c.bytes } }], attempt);
      await tx.checkpoint.create({ data: { jobId, attempt, seq: c.seq, phase: c.phase, epoch: c.epoch, storageKey: c.key, bytes: BigInt(c.bytes) } });
    });
  }

  /**
   * Checkpoint `seq` is committed: the older ones are no longer needed for a resume. Best effort: what a
   * failure here leaves, the next checkpoint or the job's end removes.
   */
  async pruneCheckpoints(jobId: string, seq: number): Promise<void> {
    if (this.store) await pruneCheckpoints(this.db, this.store, jobId, seq);
  }

  /**
   * A checkpoint file whose row could not be written because the attempt was fenced out: no row will
   * ever own it. Its name carries this attempt's number, which no other attempt writes.
   */
  async discardCheckpointFile(key: string): Promise<void> {
    await this.store?.remove(key).catch(() => {});
  }

  /** The job ended: its checkpoints go (best effort; the sweeper finishes what a failure leaves). */
  async dropCheckpoints(jobId: string): Promise<void> {
    if (this.store) await dropCheckpoints(this.db, this.store, jobId).catch(() => {});
  }

  /** The attempt succeeded: artifacts, its models (with lineage), result and terminal status in one transaction. */
  async succeed(jobId: string, attempt: number, report: Record<string, unknown>, files: StoredFile[], models: JobModel[] = []): Promise<void> {
    await this.inTransaction(jobId, async (tx, emit) => {
      const last = await tx.job.findUnique({ where: { id: jobId }, select: { progress: true, tenantId: true, name: true } });
      // The fence first: a stale attempt fails here before it touches the artifacts.
      await emit([{ type: 'status', data: { status: 'succeeded', attempt } }], attempt, {
        status: 'succeeded',
        phase: null,
        result: report as Prisma.InputJsonObject,
        error: Prisma.DbNull,
        finishedAt: new Date(),
        progress: { ...(last?.progress as Prisma.JsonObject | undefined), percent: 100, eta_seconds: 0 },
      });
      await tx.artifact.deleteMany({ where: { jobId } });
      await tx.artifact.createMany({
        data: files.map((f) => ({ id: newId('art'), jobId, kind: f.kind, file: f.file, storageKey: f.key, bytes: BigInt(f.bytes), sha256: f.sha256 })),
      });
      if (last) await registerJobModels(tx, { id: jobId, tenantId: last.tenantId, name: last.name }, models);
    });
    await this.dropCheckpoints(jobId);
  }

  /** Ends the job failed or cancelled; without an attempt (a job that never started) it is not fenced. */
  async finish(jobId: string, attempt: number | undefined, status: 'failed' | 'cancelled', error?: JobError): Promise<void> {
    await this.inTransaction(jobId, (_tx, emit) =>
      emit([{ type: 'status', data: { status, ...(error ? { error } : {}) } }], attempt, {
        status,
        finishedAt: new Date(),
        ...(error ? { error: error as unknown as Prisma.InputJsonObject } : {}),
      }).then(() => undefined),
    );
    await this.dropCheckpoints(jobId);
  }

  /** The attempt ended without a result but the job goes on: back to queued for the next attempt. */
  requeue(jobId: string, attempt: number, reason: string, error?: JobError) {
    return this.events(jobId, attempt, [{ type: 'status', data: { status: 'queued', reason, ...(error ? { error } : {}) } }], { status: 'queued' });
  }

  /** Runs `fn` in a transaction whose events are published once it has committed. */
  private async inTransaction<T>(
    jobId: string,
    fn: (tx: Tx, emit: (events: NewEvent[], attempt: number | undefined, update?: Prisma.JobUpdateInput) => Promise<JobEventObject[]>) => Promise<T>,
  ): Promise<T> {
    const emitted: JobEventObject[] = [];
    const result = await this.db.$transaction((tx) =>
      fn(tx, async (events, attempt, update) => {
        const stored = await appendEvents(this.db, undefined, this.channelPrefix, jobId, events, { attempt, update, tx });
        emitted.push(...stored);
        return stored;
      }),
    );
    await publishEvents(this.redis, this.channelPrefix, jobId, emitted);
    return result;
  }
}
