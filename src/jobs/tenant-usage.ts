import { type DbClient, Prisma } from '../db/client.js';
import { ACTIVE_STATUSES } from './status.js';

export interface TenantUsage {
  /** Jobs queued, running or being cancelled. */
  activeJobs: number;
  /**
   * Bytes stored: the tenant's jobs' artifacts, its datasets, the models stored on their own (uploaded,
   * or kept after their job was deleted), every model's ONNX exports kept beside it, and the checkpoints
   * of its jobs still active (an ended job's checkpoints are being removed: they count no more).
   */
  storedBytes: number;
}

/**
 * What the quotas count, as one SELECT of two columns, `active` and `stored` (bigint): run on its own
 * before an upload, and inside the statement that submits a job.
 */
export function usageQuery(tenantId: string): Prisma.Sql {
  return Prisma.sql`
    SELECT
      (SELECT count(*) FROM jobs WHERE tenant_id = ${tenantId} AND status = ANY(${[...ACTIVE_STATUSES]}::"JobStatus"[])) AS active,
      (SELECT coalesce(sum(a.bytes), 0) FROM artifacts a JOIN jobs j ON j.id = a.job_id WHERE j.tenant_id = ${tenantId})
        + (SELECT coalesce(sum(bytes), 0) FROM datasets WHERE tenant_id = ${tenantId})
        + (SELECT coalesce(sum(bytes), 0) FROM models WHERE tenant_id = ${tenantId} AND storage_key LIKE 'models/%')
        + (SELECT coalesce(sum(e.value::bigint), 0) FROM models m CROSS JOIN LATERAL jsonb_each_text(m.exports) e WHERE m.tenant_id = ${tenantId})
        + (SELECT coalesce(sum(c.bytes), 0) FROM checkpoints c JOIN jobs j ON j.id = c.job_id
             WHERE j.tenant_id = ${tenantId} AND j.status = ANY(${[...ACTIVE_STATUSES]}::"JobStatus"[])) AS stored`;
}

export async function tenantUsage(db: DbClient, tenantId: string): Promise<TenantUsage> {
  const [row] = await db.$queryRaw<{ active: bigint; stored: bigint }[]>(usageQuery(tenantId));
  return { activeJobs: Number(row?.active ?? 0), storedBytes: Number(row?.stored ?? 0) };
}
