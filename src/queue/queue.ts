import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/** What travels through BullMQ: only the id. The spec and everything else is read from Postgres. */
export interface TrainJobData {
  jobId: string;
}

export type Priority = 'low' | 'normal' | 'high';

/** BullMQ: lower number runs first; 0 would mean "no priority" and jump every prioritised job. */
export const BULL_PRIORITY: Record<Priority, number> = { high: 1, normal: 5, low: 10 };

export function createTrainQueue(name: string, connection: Redis | ConnectionOptions): Queue<TrainJobData> {
  return new Queue<TrainJobData>(name, { connection });
}

export interface EnqueueOptions {
  priority: Priority;
  attempts: number;
}

/** The BullMQ job id is our job id, so enqueueing twice (retries, the reconciler) is a no-op. */
export async function enqueueTrainJob(queue: Queue<TrainJobData>, jobId: string, options: EnqueueOptions): Promise<void> {
  await queue.add(
    'train',
    { jobId },
    {
      jobId,
      priority: BULL_PRIORITY[options.priority],
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
