import type { Db } from '../db/client.js';
import { Prisma } from '../db/client.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export type Claim = { kind: 'new' } | { kind: 'replay'; jobId: string } | { kind: 'other_body' } | { kind: 'in_flight' };

/**
 * Claims an Idempotency-Key for a request body. The claim is committed before the job is created,
 * so a concurrent duplicate sees it: `in_flight` while the first is being handled, `other_body` when the
 * key was used with another body.
 */
export async function claimKey(db: Db, tenantId: string, key: string, requestHash: string): Promise<Claim> {
  for (let tries = 0; tries < 3; tries++) {
    try {
      await db.idempotencyKey.create({ data: { tenantId, key, requestHash, expiresAt: new Date(Date.now() + IDEMPOTENCY_TTL_MS) } });
      return { kind: 'new' };
    } catch (err) {
      if (!(err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002')) throw err;
    }
    const existing = await db.idempotencyKey.findUnique({ where: { tenantId_key: { tenantId, key } } });
    if (!existing) continue;
    if (existing.expiresAt < new Date()) {
      await db.idempotencyKey.deleteMany({ where: { tenantId, key, expiresAt: { lt: new Date() } } });
      continue;
    }
    if (existing.requestHash !== requestHash) return { kind: 'other_body' };
    if (!existing.jobId) return { kind: 'in_flight' };
    return { kind: 'replay', jobId: existing.jobId };
  }
  return { kind: 'in_flight' };
}

export function releaseKey(db: Db, tenantId: string, key: string) {
  return db.idempotencyKey.deleteMany({ where: { tenantId, key, jobId: null } });
}
