import type { DbClient } from '../db/client.js';

export interface TenantUsage {
  /** Jobs queued, running or being cancelled. */
  activeJobs: number;
  /** Bytes stored: the tenant's jobs' artifacts, its datasets and its uploaded models. */
  storedBytes: number;
}

/** What the quotas count, in one statement (it runs on every job submission and upload). */
export async function tenantUsage(db: DbClient, tenantId: string): Promise<TenantUsage> {
  const [row] = await db.$queryRaw<{ active: bigint; stored: bigint }[]>`
    SELECT
      (SELECT count(*) FROM jobs WHERE tenant_id = ${tenantId} AND status IN ('queued', 'running', 'cancelling')) AS active,
      (SELECT coalesce(sum(a.bytes), 0) FROM artifacts a JOIN jobs j ON j.id = a.job_id WHERE j.tenant_id = ${tenantId})
        + (SELECT coalesce(sum(bytes), 0) FROM datasets WHERE tenant_id = ${tenantId})
        + (SELECT coalesce(sum(bytes), 0) FROM models WHERE tenant_id = ${tenantId} AND source = 'uploaded') AS stored`;
  return { activeJobs: Number(row?.active ?? 0), storedBytes: Number(row?.stored ?? 0) };
}
