import { type DbClient, Prisma } from '../db/client.js';
import { ACTIVE_STATUSES } from './status.js';

export interface TenantUsage {
  /** Jobs queued, running or being cancelled. */
  activeJobs: number;
  /** Bytes stored: the tenant's jobs' artifacts, its datasets and its uploaded models. */
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
        + (SELECT coalesce(sum(bytes), 0) FROM models WHERE tenant_id = ${tenantId} AND source = 'uploaded') AS stored`;
}

export async function tenantUsage(db: DbClient, tenantId: string): Promise<TenantUsage> {
  const [row] = await db.$queryRaw<{ active: bigint; stored: bigint }[]>(usageQuery(tenantId));
  return { activeJobs: Number(row?.active ?? 0), storedBytes: Number(row?.stored ?? 0) };
}
