import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/** What travels through BullMQ: only the id. The spec and everything else is read from Postgres. */
export interface TrainJobData {
  jobId: string;
}

/** Orders a tenant's own jobs when they are admitted to the queue (admission.ts), not the queue itself. */
export type Priority = 'low' | 'normal' | 'high';

/**
 * Who holds a queue. BullMQ waits for a connection's first `ready` before its first command, for ever
 * while Redis has not been reached since the process started: a request of the API would hang on it.
 * The API's connection fails fast instead (src/redis.ts), so its queues skip that wait and the version
 * check (the workers' queues still check it): a command answers at once, with an error while Redis is away.
 */
export type QueueHolder = 'api' | 'worker';

export const queueOptions = (holder: QueueHolder) => (holder === 'api' ? { skipWaitingForReady: true, skipVersionCheck: true } : {});

export function createTrainQueue(name: string, connection: Redis | ConnectionOptions, holder: QueueHolder = 'worker'): Queue<TrainJobData> {
  return new Queue<TrainJobData>(name, { connection, ...queueOptions(holder) });
}

export interface EnqueueOptions {
  attempts: number;
}

/**
 * The BullMQ job id is our job id, so enqueueing twice (retries, the reconciler) is a no-op. Only
 * admitted jobs are enqueued (admission.ts), and without a BullMQ priority: the queue is first in, first
 * out, so one tenant's `high` jobs cannot jump every other tenant's.
 */
export async function enqueueTrainJob(queue: Queue<TrainJobData>, jobId: string, options: EnqueueOptions): Promise<void> {
  await queue.add(
    'train',
    { jobId },
    {
      jobId,
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600, count: 10_000 },
    },
  );
}

/** Live events and cancel signals of one queue share this prefix, so two deployments on one Redis stay apart. */
export const channelPrefixFor = (queueName: string) => `distill:${queueName}`;
export const cancelChannel = (prefix: string) => `${prefix}:cancel`;
