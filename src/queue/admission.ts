import type { Queue } from 'bullmq';
import type { Config } from '../config.js';
import { type Db, Prisma } from '../db/client.js';
import { enqueueTrainJob, type TrainJobData } from './queue.js';

/**
 * Fair scheduling between tenants, built on a plain FIFO queue. BullMQ (open source) has no per-group
 * fairness, so a job reaches the queue only once it is *admitted*: a tenant has at most
 * `maxWaiting` jobs waiting in the queue for a worker and at most `maxDispatched` in the queue or
 * running. The rest stay `queued` in Postgres (dispatched_at null) and are admitted one by one, the
 * tenant's highest priority first, then the oldest, when one of its jobs starts or ends.
 *
 * With one waiting job per tenant the queue holds at most one job of each tenant with work, so a free
 * worker takes the tenants in turn (whose job has waited longest): 100 jobs of one tenant put one
 * job ahead of another tenant's, not 100. `maxDispatched` bounds how many workers one tenant holds,
 * so others find a free one even while its long jobs run. `priority` orders a tenant's own jobs only.
 */
export interface AdmissionLimits {
  /** MAX_DISPATCHED_JOBS_PER_TENANT */
  maxDispatched: number;
  /** MAX_WAITING_JOBS_PER_TENANT */
  maxWaiting: number;
  /** JOB_ATTEMPTS: the BullMQ attempts an admitted job is enqueued with. */
  attempts: number;
}

export interface AdmissionDeps extends AdmissionLimits {
  db: Db;
  queue: Queue<TrainJobData>;
  log: { warn(details: object, message: string): void };
}

export const admissionLimits = (config: Config): AdmissionLimits => ({
  maxDispatched: config.MAX_DISPATCHED_JOBS_PER_TENANT,
  maxWaiting: config.MAX_WAITING_JOBS_PER_TENANT,
  attempts: config.JOB_ATTEMPTS,
});

/**
 * Whose jobs to admit: a tenant's, or the tenant's of a job that has just left the queue (a worker
 * took it, or it ended). That job no longer waits in the queue even while Postgres still says `queued`.
 */
export type AdmissionScope = { tenantId: string } | { jobId: string };

/**
 * Admits what the tenant's free slots allow and enqueues it; returns the admitted job ids. The rule is
 * the database function `admit_jobs` (prisma/migrations/20261205000000_job_dispatch): it takes the
 * tenant's advisory lock, then counts in a snapshot taken after the lock is held, so concurrent
 * submits, starts and ends never admit more than the limits, in one round trip (a Prisma transaction
 * of lock and update cost a POST about 1.5 ms of CPU, as much as the rest of submitJob).
 *
 * Marked in Postgres first, enqueued after the commit: an enqueue that fails (Redis away) leaves an
 * admitted job the reconciler finds missing from the queue and enqueues.
 */
export async function admitJobs(deps: AdmissionDeps, scope: AdmissionScope): Promise<string[]> {
  const tenant = 'tenantId' in scope ? Prisma.sql`${scope.tenantId}::text` : Prisma.sql`(SELECT tenant_id FROM jobs WHERE id = ${scope.jobId})`;
  const leftQueue = 'jobId' in scope ? scope.jobId : null;
  const admitted = await deps.db.$queryRaw<{ id: string; attempts: number }[]>`
    SELECT job_id AS id, job_attempts AS attempts
    FROM admit_jobs(${tenant}, ${leftQueue}::text, ${deps.maxDispatched}::bigint, ${deps.maxWaiting}::bigint)`;
  await Promise.all(
    admitted.map((job) =>
      enqueueTrainJob(deps.queue, job.id, { attempts: Math.max(1, deps.attempts - job.attempts) }).catch((err: Error) => {
        deps.log.warn({ jobId: job.id, err: err.message }, 'enqueue failed; the reconciler will enqueue the job');
      }),
    ),
  );
  return admitted.map((job) => job.id);
}

/** Tenants with jobs not yet admitted: the reconciler's backstop admits for each. */
export async function tenantsWithBacklog(db: Db): Promise<string[]> {
  const rows = await db.$queryRaw<{ tenant_id: string }[]>`
    SELECT DISTINCT tenant_id FROM jobs WHERE status = 'queued' AND dispatched_at IS NULL`;
  return rows.map((r) => r.tenant_id);
}
