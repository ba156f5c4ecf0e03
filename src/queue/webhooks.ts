import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { type QueueHolder, queueOptions } from './queue.js';

export interface WebhookDeliveryData {
  jobId: string;
  /** The `webhook-id` header: one per job and terminal state, the same on every retry. */
  messageId: string;
}

const ATTEMPTS = 8;

export const webhookQueueName = (queueName: string) => `${queueName}-webhooks`;

export function createWebhookQueue(queueName: string, connection: Redis | ConnectionOptions, holder: QueueHolder = 'worker'): Queue<WebhookDeliveryData> {
  return new Queue<WebhookDeliveryData>(webhookQueueName(queueName), { connection, ...queueOptions(holder) });
}

/** Enqueues one delivery, retried with backoff; the message id is the queue's job id, so a repeat adds nothing. */
export async function enqueueWebhookDelivery(queue: Queue<WebhookDeliveryData>, delivery: WebhookDeliveryData): Promise<void> {
  await queue.add('deliver', delivery, {
    jobId: delivery.messageId,
    attempts: ATTEMPTS,
    backoff: { type: 'exponential', delay: 500 },
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}
