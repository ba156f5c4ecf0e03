import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client.js';
import { isTerminal } from '../jobs/status.js';

export interface WebhookDeliveryData {
  jobId: string;
  /** The `webhook-id` header: one per job and terminal state, the same on every retry. */
  messageId: string;
}

const ATTEMPTS = 8;

export const webhookQueueName = (queueName: string) => `${queueName}-webhooks`;

export function createWebhookQueue(queueName: string, connection: Redis | ConnectionOptions): Queue<WebhookDeliveryData> {
  return new Queue<WebhookDeliveryData>(webhookQueueName(queueName), { connection });
}

/** Schedules one delivery per terminal state of a job that has a webhook; a repeat call sends once. */
export async function scheduleWebhook(queue: Queue<WebhookDeliveryData>, db: Db, jobId: string): Promise<void> {
  const row = await db.job.findUnique({ where: { id: jobId }, select: { status: true, webhook: true } });
  if (!row?.webhook || !isTerminal(row.status)) return;
  const messageId = `msg_${jobId.slice(4)}_${row.status}`;
  await queue.add('deliver', { jobId, messageId }, {
    jobId: messageId,
    attempts: ATTEMPTS,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}
