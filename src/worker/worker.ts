import { Worker } from 'bullmq';
import type { Config } from '../config.js';
import { createDb } from '../db/client.js';
import type { Logger } from '../log.js';
import { cancelChannel, channelPrefixFor, createTrainQueue, type TrainJobData } from '../queue/queue.js';
import { createRedis } from '../redis.js';
import { createRegistry, publishMetrics } from '../metrics/registry.js';
import { createWorkerMetrics } from '../metrics/worker-metrics.js';
import { ORPHAN_GRACE_MS, sweepOrphanedUploads } from '../resources/orphaned-uploads.js';
import { openArtifactStore } from '../storage/artifact-store.js';
import { AttemptStore } from './attempt-store.js';
import { JobRunner } from './job-runner.js';
import { reconcile } from './reconciler.js';
import { startWebhookSender } from './webhooks.js';

/** A worker process: BullMQ consumer, cancel listener, reconciler, webhook sender and sweeper of orphaned uploads. */
export async function startWorker(config: Config, log: Logger) {
  const db = createDb(config.DATABASE_URL, Math.max(4, config.WORKER_CONCURRENCY * 2));
  const connection = createRedis(config.REDIS_URL, 'worker', 'worker');
  const publisher = createRedis(config.REDIS_URL, 'worker', 'worker-events');
  const subscriber = createRedis(config.REDIS_URL, 'subscriber', 'worker-cancel');
  const queue = createTrainQueue(config.QUEUE_NAME, connection);
  const prefix = channelPrefixFor(config.QUEUE_NAME);
  const attempts = new AttemptStore(db, publisher, prefix);
  const webhooks = startWebhookSender(config, db, connection, log);

  const registry = createRegistry('worker');
  const stopPublishing = publishMetrics(registry, publisher, prefix);
  const runner = new JobRunner({
    config,
    log,
    metrics: createWorkerMetrics(registry),
    attempts,
    readStatus: async (jobId) => (await db.job.findUnique({ where: { id: jobId }, select: { status: true } }))?.status,
    onTerminal: (jobId) => webhooks.notify(jobId),
  });

  await subscriber.subscribe(cancelChannel(prefix));
  subscriber.on('message', (_channel, jobId: string) => runner.cancel(jobId));

  const worker = new Worker<TrainJobData>(config.QUEUE_NAME, runner.process, {
    connection,
    concurrency: config.WORKER_CONCURRENCY,
    // The training runs in a child process, so the lock is renewed on time; a dead worker's job is
    // picked up again after one lock period.
    lockDuration: 30_000,
    maxStalledCount: 3,
  });
  worker.on('failed', (job, err) => log.info({ jobId: job?.id, err: err.message }, 'attempt ended with an error'));
  worker.on('error', (err) => log.error({ err }, 'worker error'));

  const reconcileNow = () =>
    reconcile(db, queue, attempts, config.JOB_ATTEMPTS, log).catch((err) => log.warn({ err: (err as Error).message }, 'reconcile failed'));
  await reconcileNow();
  const reconcileTimer = setInterval(reconcileNow, config.RECONCILE_INTERVAL_SECONDS * 1000);
  const store = openArtifactStore(config.ARTIFACT_DIR);
  const sweepNow = () =>
    sweepOrphanedUploads(db, store)
      .then((removed) => removed.length > 0 && log.info({ removed }, 'removed orphaned upload files'))
      .catch((err) => log.warn({ err: (err as Error).message }, 'orphaned upload sweep failed'));
  await sweepNow();
  const sweepTimer = setInterval(sweepNow, ORPHAN_GRACE_MS);
  log.info({ queue: config.QUEUE_NAME, concurrency: config.WORKER_CONCURRENCY }, 'worker ready');

  return {
    runner,
    async close() {
      clearInterval(reconcileTimer);
      clearInterval(sweepTimer);
      stopPublishing();
      runner.shutdown();
      await worker.close();
      await webhooks.close();
      await queue.close();
      subscriber.disconnect();
      publisher.disconnect();
      connection.disconnect();
      await db.$disconnect();
    },
  };
}
