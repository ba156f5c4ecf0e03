import type { Queue } from 'bullmq';
import type { Db } from '../db/client.js';
import type { Logger } from '../log.js';
import { type AdmissionLimits, admitJobs, tenantsWithBacklog } from '../queue/admission.js';
import { enqueueTrainJob, type TrainJobData } from '../queue/queue.js';
import type { AttemptStore } from './attempt-store.js';

export interface ReconcileResult {
  reenqueued: string[];
  lost: string[];
  /** Jobs admitted here: their admission on submit, start or end was missed (a crash, Postgres away). */
  admitted: string[];
}

/**
 * Postgres is the truth, Redis is transport: every job Postgres calls active and admitted must be in
 * BullMQ. One that is missing (Redis emptied or restarted without persistence) is enqueued again; one
 * that BullMQ gave up on without our processor recording it (stalled too often) is failed. Then every
 * tenant with jobs not yet admitted gets what its free slots allow (the backstop of admission.ts).
 */
export async function reconcile(db: Db, queue: Queue<TrainJobData>, attempts: AttemptStore, admission: AdmissionLimits, log: Logger): Promise<ReconcileResult> {
  const active = await db.job.findMany({
    where: { status: { in: ['queued', 'running', 'cancelling'] }, dispatchedAt: { not: null } },
    select: { id: true, status: true, attempts: true },
    orderBy: { id: 'asc' },
  });
  const result: ReconcileResult = { reenqueued: [], lost: [], admitted: [] };
  for (const job of active) {
    const state = await queue.getJobState(job.id);
    if (state === 'unknown') {
      if (job.status === 'cancelling') {
        await attempts.finish(job.id, undefined, 'cancelled');
        continue;
      }
      await enqueueTrainJob(queue, job.id, { attempts: Math.max(1, admission.attempts - job.attempts) });
      result.reenqueued.push(job.id);
    } else if (state === 'failed' || state === 'completed') {
      await attempts.finish(job.id, undefined, 'failed', { code: 'worker_lost', message: 'the job was lost by its workers too many times' });
      result.lost.push(job.id);
    }
  }
  for (const tenantId of await tenantsWithBacklog(db)) {
    result.admitted.push(...(await admitJobs({ ...admission, db, queue, log }, { tenantId })));
  }
  if (result.reenqueued.length || result.lost.length) log.warn(result, 'reconciled jobs with the queue');
  else if (result.admitted.length) log.info(result, 'admitted jobs the regular admission missed');
  return result;
}
