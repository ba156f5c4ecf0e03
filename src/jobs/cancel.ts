import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client.js';
import { type AdmissionLimits, admitJobs } from '../queue/admission.js';
import { cancelChannel, type TrainJobData } from '../queue/queue.js';
import { appendEvents, type JobEventObject, publishEvents } from './events.js';

/**
 * queued → cancelled at once (whether it was admitted to the queue or still waited for its tenant's
 * turn); running → cancelling, and the worker running it is told (pub/sub, with a status poll as
 * backstop) and ends it `cancelled` between two batches; terminal → unchanged.
 * Returns whether the job reached a terminal state here (so its webhook can be sent).
 */
export async function cancelJob(
  db: Db,
  redis: Redis,
  queue: Queue<TrainJobData>,
  channelPrefix: string,
  scope: { tenantId?: string },
  jobId: string,
  admission: AdmissionLimits,
): Promise<'cancelled' | 'cancelling' | 'unchanged' | 'missing'> {
  let emitted: JobEventObject[] = [];
  let freedSlotOf: string | undefined;
  const outcome = await db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 FROM jobs WHERE id = ${jobId} FOR UPDATE`;
    const job = await tx.job.findFirst({ where: { id: jobId, ...scope }, select: { status: true, tenantId: true, dispatchedAt: true } });
    if (!job) return 'missing' as const;
    if (job.status === 'queued') {
      emitted = await appendEvents(db, undefined, channelPrefix, jobId, [{ type: 'status', data: { status: 'cancelled' } }], {
        tx,
        update: { status: 'cancelled', finishedAt: new Date() },
      });
      if (job.dispatchedAt) freedSlotOf = job.tenantId;
      return 'cancelled' as const;
    }
    if (job.status === 'running') {
      emitted = await appendEvents(db, undefined, channelPrefix, jobId, [{ type: 'status', data: { status: 'cancelling' } }], {
        tx,
        update: { status: 'cancelling' },
      });
      return 'cancelling' as const;
    }
    return 'unchanged' as const;
  });
  await publishEvents(redis, channelPrefix, jobId, emitted);
  if (outcome === 'cancelled' && freedSlotOf) {
    // Best effort: a worker that takes it anyway sees the status and skips it.
    await queue.remove(jobId).catch(() => 0);
    // Its place in the queue goes to the tenant's next job; the reconciler does it if this fails.
    await admitJobs({ ...admission, db, queue, log: { warn: () => {} } }, { tenantId: freedSlotOf }).catch(() => []);
  } else if (outcome === 'cancelling') {
    await redis.publish(cancelChannel(channelPrefix), jobId).catch(() => 0);
  }
  return outcome;
}
