import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DbClient } from '../db/client.js';
import { newId } from '../ids.js';

/** Keys look like `dsk_3f9a…`: the prefix tells a leaked secret apart in logs, scanners and diffs. */
export const KEY_PREFIX = 'dsk_';
const KEY_PATTERN = /^dsk_[A-Za-z0-9_-]{43}$/;

export interface CreatedKey {
  id: string;
  tenantId: string;
  tenantName: string;
  admin: boolean;
  /** The secret: shown once, never stored. */
  key: string;
  prefix: string;
}

export interface Caller {
  keyId: string;
  tenantId: string;
  admin: boolean;
}

const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');

export function isWellFormedKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** Creates a key for the tenant of that name, creating the tenant on first use. */
export async function createApiKey(db: DbClient, tenantName: string, admin = false): Promise<CreatedKey> {
  const tenant = await db.tenant.upsert({ where: { name: tenantName }, create: { id: newId('ten'), name: tenantName }, update: {} });
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const prefix = key.slice(0, 12);
  const row = await db.apiKey.create({ data: { id: newId('key'), tenantId: tenant.id, prefix, hash: hashOf(key), admin } });
  return { id: row.id, tenantId: tenant.id, tenantName: tenant.name, admin, key, prefix };
}

export type AdoptedKey = 'created' | 'present' | 'revoked';

/**
 * Stores a key chosen outside (ADMIN_API_KEY) for the tenant of that name, hashed like every key, unless a key
 * with its hash exists: every start may call it, and several API processes at once. A revoked key stays
 * revoked: the caller says so rather than bring it back.
 */
export async function adoptApiKey(db: DbClient, key: string, tenantName: string, admin: boolean): Promise<AdoptedKey> {
  const hash = hashOf(key);
  const existing = await db.apiKey.findUnique({ where: { hash }, select: { revokedAt: true } });
  if (existing) return existing.revokedAt ? 'revoked' : 'present';
  // No upsert: two processes upserting the same new tenant can both try to insert it; ON CONFLICT DO NOTHING cannot fail.
  await db.tenant.createMany({ data: [{ id: newId('ten'), name: tenantName }], skipDuplicates: true });
  const tenant = await db.tenant.findUniqueOrThrow({ where: { name: tenantName }, select: { id: true } });
  const { count } = await db.apiKey.createMany({
    data: [{ id: newId('key'), tenantId: tenant.id, prefix: key.slice(0, 12), hash, admin }],
    skipDuplicates: true,
  });
  return count === 1 ? 'created' : 'present';
}

/** The caller a key stands for, or undefined for a malformed, unknown or revoked key. */
export async function verifyApiKey(db: DbClient, key: string): Promise<Caller | undefined> {
  if (!isWellFormedKey(key)) return undefined;
  const hash = hashOf(key);
  // A raw statement: this runs on every request, and the query builder's findUnique cost three times
  // the CPU for the same row (bench/RESULTS.md).
  const [row] = await db.$queryRaw<Array<{ id: string; tenantId: string; admin: boolean; hash: string; revoked: boolean }>>`
    SELECT id, tenant_id AS "tenantId", admin, hash, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE hash = ${hash}`;
  // The index found it by hash; compare again in constant time so no code path leaks timing.
  if (!row || row.revoked || !timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
  return { keyId: row.id, tenantId: row.tenantId, admin: row.admin };
}

/** The caller a key id stands for, read now: undefined once the key is revoked (or gone with its tenant). */
export async function activeCaller(db: DbClient, keyId: string): Promise<Caller | undefined> {
  const row = await db.apiKey.findFirst({ where: { id: keyId, revokedAt: null }, select: { id: true, tenantId: true, admin: true } });
  return row ? { keyId: row.id, tenantId: row.tenantId, admin: row.admin } : undefined;
}

export function listApiKeys(db: DbClient) {
  return db.apiKey.findMany({ orderBy: { createdAt: 'asc' }, include: { tenant: { select: { name: true } } } });
}

/**
 * Revokes a key at once for HTTP (every request verifies its key). Its open WebSockets close within
 * seconds on every API process (each re-checks its sockets' keys: src/api/live/key-watch.ts) and its
 * unused WebSocket tickets no longer redeem (redemption re-reads the key).
 */
export async function revokeApiKey(db: DbClient, id: string): Promise<boolean> {
  const result = await db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  return result.count > 0;
}

export async function countApiKeys(db: DbClient): Promise<number> {
  return db.apiKey.count();
}
