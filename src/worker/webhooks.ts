import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { newId } from '../ids.js';
import { toJobObject } from '../jobs/job-object.js';
import { signWebhook, webhookHostAllowed } from '../jobs/webhook-signature.js';
import { scheduleWebhook } from '../jobs/webhooks.js';
import type { Logger } from '../log.js';
import { createWebhookQueue, type WebhookDeliveryData, webhookQueueName } from '../queue/webhooks.js';

const TIMEOUT_MS = 10_000;

/**
 * Terminal states are POSTed to the job's webhook, signed like Standard Webhooks. Deliveries ride a
 * BullMQ queue of their own for retries with backoff; every attempt is recorded in Postgres.
 */
export function startWebhookSender(config: Config, db: Db, connection: Redis, log: Logger) {
  const queue = createWebhookQueue(config.QUEUE_NAME, connection);

  const worker = new Worker<WebhookDeliveryData>(
    webhookQueueName(config.QUEUE_NAME),
    async (job) => {
      const { jobId, messageId } = job.data;
      const row = await db.job.findUnique({ where: { id: jobId } });
      const webhook = row?.webhook as { url: string; secret: string } | null | undefined;
      if (!row || !webhook) return;
      if (!webhookHostAllowed(webhook.url, config.WEBHOOK_ALLOWED_HOSTS)) {
        await record(db, jobId, messageId, job.attemptsMade + 1, null, 'host not in WEBHOOK_ALLOWED_HOSTS');
        return;
      }
      const body = JSON.stringify({ type: `job.${row.status}`, timestamp: new Date().toISOString(), data: toJobObject(row) });
      const timestamp = Math.floor(Date.now() / 1000);
      let status: number | null = null;
      try {
        const response = await fetch(webhook.url, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.timeout(TIMEOUT_MS),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'distill-server-webhooks',
            'webhook-id': messageId,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signWebhook(webhook.secret, messageId, timestamp, body),
          },
          body,
        });
        status = response.status;
        await response.body?.cancel();
      } catch (err) {
        await record(db, jobId, messageId, job.attemptsMade + 1, null, (err as Error).message);
        throw err;
      }
      await record(db, jobId, messageId, job.attemptsMade + 1, status, status >= 200 && status < 300 ? null : `HTTP ${status}`);
      if (status < 200 || status >= 300) throw new Error(`webhook answered HTTP ${status}`);
    },
    { connection, concurrency: 4 },
  );
  worker.on('failed', (job, err) => log.warn({ jobId: job?.data.jobId, attempt: job?.attemptsMade, err: err.message }, 'webhook delivery failed'));

  return {
    notify: (jobId: string) => scheduleWebhook(queue, db, jobId),
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

function record(db: Db, jobId: string, messageId: string, attempt: number, statusCode: number | null, error: string | null) {
  return db.webhookDelivery.create({ data: { id: newId('whd'), jobId, messageId, attempt, statusCode, error } });
}
