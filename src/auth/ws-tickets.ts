import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Caller } from './api-keys.js';

/**
 * Browsers cannot set headers on a WebSocket, so they trade their key for a ticket: single use,
 * short-lived, kept in Redis (hashed) so any API process can redeem it.
 */
export async function issueTicket(redis: Redis, prefix: string, caller: Caller, ttlSeconds: number): Promise<{ ticket: string; expiresAt: Date }> {
  const ticket = `wst_${randomBytes(24).toString('base64url')}`;
  await redis.set(keyOf(prefix, ticket), JSON.stringify(caller), 'EX', ttlSeconds);
  return { ticket, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
}

/** Redeems a ticket once: GETDEL makes a second use find nothing, even across processes. */
export async function redeemTicket(redis: Redis, prefix: string, ticket: string): Promise<Caller | undefined> {
  if (!/^wst_[A-Za-z0-9_-]{32}$/.test(ticket)) return undefined;
  const value = await redis.getdel(keyOf(prefix, ticket));
  return value ? (JSON.parse(value) as Caller) : undefined;
}

const keyOf = (prefix: string, ticket: string) => `${prefix}:ws-ticket:${createHash('sha256').update(ticket).digest('hex')}`;
