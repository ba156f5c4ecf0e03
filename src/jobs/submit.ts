import type { Queue } from 'bullmq';
import type { Db } from '../db/client.js';
import { Prisma } from '../db/client.js';
import { newId } from '../ids.js';
import { enqueueTrainJob, type Priority, type TrainJobData } from '../queue/queue.js';
import { publishEvents, toEventObject } from './events.js';
import type { Redis } from 'ioredis';

export interface NewJob {
  tenantId: string;
  name?: string;
  spec: Record<string, unknown>;
  metadata: Record<string, string>;
  priority: Priority;
  maxRuntimeSeconds?: number;
  webhook?: { url: string; secret: string };
}

export interface SubmitDeps {
  db: Db;
  redis: Redis;
  queue: Queue<TrainJobData>;
  channelPrefix: string;
  attempts: number;
  log: { warn(details: object, message: string): void };
}

/**
 * Creates the job in Postgres (with its first event) and only then enqueues it. If Redis is down at
 * that moment the job is still accepted: the reconciler enqueues it once Redis is back.
 */
export async function submitJob(deps: SubmitDeps, job: NewJob, afterCreate?: (tx: Prisma.TransactionClient, jobId: string) => Promise<void>) {
  const id = newId('job');
  // The job and its first event in one statement each: the job starts at last_event_seq 1, so the
  // counter update appendEvents makes for later events is not needed here.
  const queued = { seq: 1, type: 'status', data: { status: 'queued' }, createdAt: new Date() } as const;
  const row = await deps.db.$transaction(async (tx) => {
    const created = await tx.job.create({
      data: {
        id,
        tenantId: job.tenantId,
        name: job.name ?? null,
        spec: job.spec as Prisma.InputJsonObject,
        metadata: job.metadata,
        priority: job.priority,
        maxRuntimeSeconds: job.maxRuntimeSeconds ?? null,
        webhook: job.webhook ?? Prisma.DbNull,
        lastEventSeq: queued.seq,
        events: { create: [queued] },
      },
    });
    await afterCreate?.(tx, id);
    return created;
  });
  const events = [toEventObject({ jobId: id, ...queued })];
  await publishEvents(deps.redis, deps.channelPrefix, id, events);
  try {
    await enqueueTrainJob(deps.queue, id, { priority: job.priority, attempts: deps.attempts });
  } catch (err) {
    deps.log.warn({ jobId: id, err: (err as Error).message }, 'enqueue failed; the reconciler will enqueue the job');
  }
  return row;
}
