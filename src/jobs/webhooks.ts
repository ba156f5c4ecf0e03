import type { Queue } from 'bullmq';
import type { Db } from '../db/client.js';
import { enqueueWebhookDelivery, type WebhookDeliveryData } from '../queue/webhooks.js';
import { isTerminal } from './status.js';

/** Schedules one delivery per terminal state of a job that has a webhook; a repeat call sends once. */
export async function scheduleWebhook(queue: Queue<WebhookDeliveryData>, db: Db, jobId: string): Promise<void> {
  const row = await db.job.findUnique({ where: { id: jobId }, select: { status: true, webhook: true } });
  if (!row?.webhook || !isTerminal(row.status)) return;
  await enqueueWebhookDelivery(queue, { jobId, messageId: `msg_${jobId.slice(4)}_${row.status}` });
}
