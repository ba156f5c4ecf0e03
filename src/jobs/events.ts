import type { Redis } from 'ioredis';
import { type Db, type DbClient, Prisma } from '../db/client.js';
import type { EventObject, JobEventType } from '../contract/index.js';
import { TERMINAL_STATUSES } from './status.js';

export type { JobEventType };

export interface NewEvent {
  type: JobEventType;
  data: Record<string, unknown>;
}

/** An event as stored, listed over REST and sent over WebSockets (the wire's type, by `type`: EventObject). */
export interface JobEventObject {
  object: 'event';
  job_id: string;
  seq: number;
  type: JobEventType;
  data: Record<string, unknown>;
  created_at: string;
}

export const eventsChannel = (prefix: string, jobId: string) => `${prefix}:events:${jobId}`;

export function toEventObject(row: { jobId: string; seq: number; type: string; data: unknown; createdAt: Date }): EventObject {
  // Written by appendEvents from typed engine and job events: the stored data is the wire's.
  return {
    object: 'event',
    job_id: row.jobId,
    seq: row.seq,
    type: row.type as JobEventType,
    data: row.data as Record<string, unknown>,
    created_at: row.createdAt.toISOString(),
  } as EventObject;
}

export class FencedOutError extends Error {
  override name = 'FencedOutError';
  constructor(jobId: string, attempt: number) {
    super(`job ${jobId}: attempt ${attempt} is no longer the current attempt`);
  }
}

/**
 * Appends events to a job and applies a state change in one transaction, then publishes them live.
 * The job row's `last_event_seq` is the counter, so sequence numbers never repeat or skip even with
 * several writers; with `attempt` set, nothing is written unless that attempt is still the current one
 * and the job has not ended.
 */
export async function appendEvents(
  db: Db,
  redis: Redis | undefined,
  channelPrefix: string,
  jobId: string,
  events: NewEvent[],
  options: { attempt?: number; update?: Prisma.JobUpdateInput; tx?: DbClient } = {},
): Promise<JobEventObject[]> {
  const write = async (tx: DbClient) => {
    let job: { lastEventSeq: number };
    try {
      job = await tx.job.update({
        // An attempt's writes also stop at a terminal status: a repeated write (its commit's answer was
        // lost, see db/retry.ts) cannot end a job twice.
        where: options.attempt === undefined ? { id: jobId } : { id: jobId, attempts: options.attempt, status: { notIn: [...TERMINAL_STATUSES] } },
        data: { ...options.update, lastEventSeq: { increment: events.length } },
        select: { lastEventSeq: true },
      });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') {
        throw new FencedOutError(jobId, options.attempt ?? -1);
      }
      throw err;
    }
    const first = job.lastEventSeq - events.length + 1;
    const createdAt = new Date();
    const rows = events.map((e, i) => ({ jobId, seq: first + i, type: e.type, data: e.data as Prisma.InputJsonObject, createdAt }));
    if (rows.length) await tx.jobEvent.createMany({ data: rows });
    return rows.map(toEventObject);
  };
  const stored = options.tx ? await write(options.tx) : await db.$transaction(write);
  // Inside a caller's transaction, the caller publishes once it commits.
  if (redis && !options.tx) await publishEvents(redis, channelPrefix, jobId, stored);
  return stored;
}

/** Live delivery is best effort: a follower that misses a message reads the gap from Postgres. */
export async function publishEvents(redis: Redis, prefix: string, jobId: string, events: JobEventObject[]): Promise<void> {
  if (events.length === 0) return;
  try {
    const pipeline = redis.pipeline();
    for (const e of events) pipeline.publish(eventsChannel(prefix, jobId), JSON.stringify(e));
    await pipeline.exec();
  } catch {
    // Redis down: the events are stored; followers catch up when it returns.
  }
}
