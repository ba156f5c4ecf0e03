import type { Queue } from 'bullmq';
import type { Db } from '../db/client.js';
import type { Logger } from '../log.js';
import { enqueueTrainJob, type TrainJobData } from '../queue/queue.js';
import type { AttemptStore } from './attempt-store.js';

export interface ReconcileResult {
  reenqueued: string[];
  lost: string[];
}

/**
 * Postgres is the truth, Redis is transport: every job Postgres calls active must be in BullMQ.
 * One that is missing (Redis emptied or restarted without persistence) is enqueued again; one that
 * BullMQ gave up on without our processor recording it (stalled too often) is failed.
 */
export async function reconcile(db: Db, queue: Queue<TrainJobData>, attempts: AttemptStore, jobAttempts: number, log: Logger): Promise<ReconcileResult> {
  const active = await db.job.findMany({
    where: { status: { in: ['queued', 'running', 'cancelling'] } },
    select: { id: true, status: true, priority: true, attempts: true },
    orderBy: { id: 'asc' },
  });
  const result: ReconcileResult = { reenqueued: [], lost: [] };
  for (const job of active) {
    const state = await queue.getJobState(job.id);
    if (state === 'unknown') {
      if (job.status === 'cancelling') {
        await attempts.finish(job.id, undefined, 'cancelled');
        continue;
      }
      await enqueueTrainJob(queue, job.id, { priority: job.priority, attempts: Math.max(1, jobAttempts - job.attempts) });
      result.reenqueued.push(job.id);
    } else if (state === 'failed' || state === 'completed') {
      await attempts.finish(job.id, undefined, 'failed', { code: 'worker_lost', message: 'the job was lost by its workers too many times' });
      result.lost.push(job.id);
    }
  }
  if (result.reenqueued.length || result.lost.length) log.warn(result, 'reconciled jobs with the queue');
  return result;
}
