import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DbClient } from '../db/client.js';
import { type Caller, activeCaller } from './api-keys.js';

/**
 * Browsers cannot set headers on a WebSocket, so they trade their key for a ticket: single use,
 * short-lived, kept in Redis (hashed) so any API process can redeem it.
 */
export async function issueTicket(redis: Redis, prefix: string, caller: Caller, ttlSeconds: number): Promise<{ ticket: string; expiresAt: Date }> {
  const ticket = `wst_${randomBytes(24).toString('base64url')}`;
  await redis.set(keyOf(prefix, ticket), JSON.stringify({ keyId: caller.keyId }), 'EX', ttlSeconds);
  return { ticket, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
}

/**
 * Redeems a ticket once: GETDEL makes a second use find nothing, even across processes. The ticket
 * stands for the key that minted it, read again from Postgres now: a ticket of a key revoked since is void.
 */
export async function redeemTicket(redis: Redis, prefix: string, ticket: string, db: DbClient): Promise<Caller | undefined> {
  if (!/^wst_[A-Za-z0-9_-]{32}$/.test(ticket)) return undefined;
  const value = await redis.getdel(keyOf(prefix, ticket));
  if (!value) return undefined;
  const keyId = (JSON.parse(value) as { keyId?: unknown }).keyId;
  return typeof keyId === 'string' ? activeCaller(db, keyId) : undefined;
}

const keyOf = (prefix: string, ticket: string) => `${prefix}:ws-ticket:${createHash('sha256').update(ticket).digest('hex')}`;
