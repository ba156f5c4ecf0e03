import type { DbClient } from '../db/client.js';

/** Bytes a tenant stores: its jobs' artifacts, its datasets and its uploaded models. */
export async function storedBytes(db: DbClient, tenantId: string): Promise<number> {
  const [artifacts, datasets, models] = await Promise.all([
    db.artifact.aggregate({ where: { job: { tenantId } }, _sum: { bytes: true } }),
    db.dataset.aggregate({ where: { tenantId }, _sum: { bytes: true } }),
    db.model.aggregate({ where: { tenantId, source: 'uploaded' }, _sum: { bytes: true } }),
  ]);
  return Number((artifacts._sum.bytes ?? 0n) + (datasets._sum.bytes ?? 0n) + (models._sum.bytes ?? 0n));
}
