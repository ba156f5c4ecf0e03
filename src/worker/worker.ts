import { Worker } from 'bullmq';
import type { Config } from '../config.js';
import { createDb } from '../db/client.js';
import type { Logger } from '../log.js';
import { admissionLimits, admitJobs } from '../queue/admission.js';
import { cancelChannel, channelPrefixFor, createTrainQueue, type TrainJobData } from '../queue/queue.js';
import { createRedis } from '../redis.js';
import { createRegistry, publishMetrics } from '../metrics/registry.js';
import { createWorkerMetrics } from '../metrics/worker-metrics.js';
import { sweepEndedJobCheckpoints } from '../jobs/checkpoints.js';
import { deleteExpiredJobs } from '../jobs/delete.js';
import { sweepOrphanedUploads } from '../resources/orphaned-uploads.js';
import { openConfiguredStore } from '../storage/artifact-store.js';
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
  const store = openConfiguredStore(config);
  const attempts = new AttemptStore(db, publisher, prefix, store);
  const admission = { ...admissionLimits(config), db, queue, log };
  /** A job of this worker left the queue (started) or ended: its tenant's next job may take its place. */
  const admitAfter = (jobId: string) =>
    admitJobs(admission, { jobId }).catch((err) => log.warn({ jobId, err: (err as Error).message }, 'admission failed; the reconciler will admit'));
  const webhooks = startWebhookSender(config, db, connection, log);

  const registry = createRegistry('worker');
  const stopPublishing = publishMetrics(registry, publisher, prefix);
  const metrics = createWorkerMetrics(registry);
  const runner = new JobRunner({
    config,
    log,
    metrics,
    attempts,
    readStatus: async (jobId) => (await db.job.findUnique({ where: { id: jobId }, select: { status: true } }))?.status,
    onTerminal: async (jobId) => {
      await Promise.all([webhooks.notify(jobId), admitAfter(jobId)]);
    },
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
  worker.on('active', (job) => void admitAfter(job.id ?? job.data.jobId));
  worker.on('failed', (job, err) => log.info({ jobId: job?.id, err: err.message }, 'attempt ended with an error'));
  worker.on('error', (err) => log.error({ err }, 'worker error'));

  const reconcileNow = () =>
    reconcile(db, queue, attempts, admissionLimits(config), log).catch((err) => log.warn({ err: (err as Error).message }, 'reconcile failed'));
  await reconcileNow();
  const reconcileTimer = setInterval(reconcileNow, config.RECONCILE_INTERVAL_SECONDS * 1000);
  const onDeleted = (outcome: { freedBytes: number }) => {
    metrics.retentionDeletedJobs.inc();
    metrics.retentionFreedBytes.inc(Math.max(0, outcome.freedBytes));
  };
  // One sweep at a time: a short SWEEP_INTERVAL_SECONDS must not stack sweeps up; a stopping worker ends it.
  let stopping = false;
  let sweeping: Promise<unknown> | undefined;
  const sweepNow = () => (sweeping ??= sweepOnce().finally(() => (sweeping = undefined)));
  const sweepOrphans = () =>
    sweepOrphanedUploads(db, store)
      .then((removed) => removed.length > 0 && log.info({ removed }, 'removed orphaned upload and job files'))
      .catch((err) => log.warn({ err: (err as Error).message }, 'orphaned file sweep failed'))
      .then(() => sweepEndedJobCheckpoints(db, store))
      .then((jobs) => jobs && jobs.length > 0 && log.info({ jobs }, 'removed checkpoints of ended jobs'))
      .catch((err) => log.warn({ err: (err as Error).message }, 'ended-job checkpoint sweep failed'));
  const sweepOnce = () =>
    deleteExpiredJobs({ db, store, log, onDeleted, stopping: () => stopping }, config.JOB_RETENTION_DAYS)
      .catch((err) => log.warn({ err: (err as Error).message }, 'retention sweep failed'))
      .then(sweepOrphans);
  // Orphans before the worker is ready, as ever; retention in the background: a backlog of expired jobs
  // must not hold the worker's start.
  await sweepOrphans();
  void sweepNow();
  const sweepTimer = setInterval(sweepNow, config.SWEEP_INTERVAL_SECONDS * 1000);
  log.info({ queue: config.QUEUE_NAME, concurrency: config.WORKER_CONCURRENCY }, 'worker ready');

  return {
    runner,
    async close() {
      clearInterval(reconcileTimer);
      clearInterval(sweepTimer);
      stopping = true;
      await sweeping;
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
