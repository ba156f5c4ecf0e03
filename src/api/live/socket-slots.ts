import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A slot a process holds lives this long in Redis unless renewed: a crashed process's sockets stop counting after it. */
export const SLOT_TTL_MS = 20_000;
const RENEW_EVERY_MS = 5_000;

// Redis's own clock, so API processes on machines whose clocks differ agree on what has expired.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
/** KEYS[1]: the tenant's set; ARGV: cap, ttl, member. 1 if taken, 0 if the tenant is at its cap. */
const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;
/** KEYS[1]: the tenant's set; ARGV: ttl, members…: pushes their expiry forward (re-adding any Redis lost). */
const RENEW = `${NOW}
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0`;

type SlotRedis = Redis & {
  socketSlotAcquire(key: string, cap: number, ttl: number, member: string): Promise<number>;
  socketSlotRenew(key: string, ttl: number, ...members: string[]): Promise<number>;
};

/**
 * Open WebSockets per tenant, capped across every API process: each open socket is a member of its
 * tenant's sorted set in Redis, scored by when it expires; the process holding it renews it every few
 * seconds and removes it on close. A process that dies stops renewing, and its sockets stop counting
 * within SLOT_TTL_MS. Each process also holds its own sockets to the cap, which alone applies while
 * Redis cannot be reached (like the rate limiter, the cap then steps aside rather than refuse everything).
 */
export class SocketSlots {
  /** This process's slots by tenant. */
  private readonly held = new Map<string, Set<string>>();
  private readonly process = randomBytes(6).toString('hex');
  private next = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly redis: SlotRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly cap: number,
  ) {
    this.redis = redis as SlotRedis;
    if (!('socketSlotAcquire' in redis)) {
      redis.defineCommand('socketSlotAcquire', { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand('socketSlotRenew', { numberOfKeys: 1, lua: RENEW });
    }
    this.timer = setInterval(() => void this.renew(), RENEW_EVERY_MS);
    this.timer.unref();
  }

  get limit(): number {
    return this.cap;
  }

  /** Takes a slot for one socket of the tenant: its release (safe to call twice), or undefined at the cap. */
  async acquire(tenantId: string): Promise<(() => void) | undefined> {
    const mine = this.held.get(tenantId) ?? new Set<string>();
    if (mine.size >= this.cap) return undefined;
    const member = `${this.process}:${++this.next}`;
    // Counted here before Redis answers, so a burst of upgrades to this process cannot all pass at once.
    mine.add(member);
    this.held.set(tenantId, mine);
    let taken = true;
    try {
      taken = (await this.redis.socketSlotAcquire(this.keyOf(tenantId), this.cap, SLOT_TTL_MS, member)) === 1;
    } catch {
      // Redis unreachable: this process's own count (checked above) is the cap until it is back.
    }
    if (!taken) {
      this.forget(tenantId, member);
      return undefined;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.forget(tenantId, member);
      this.redis.zrem(this.keyOf(tenantId), member).catch(() => {});
    };
  }

  /** The process stops: its slots are given back at once rather than left to expire. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const held = [...this.held];
    this.held.clear();
    await Promise.all(held.map(([tenantId, members]) => this.redis.zrem(this.keyOf(tenantId), ...members).catch(() => {})));
  }

  private forget(tenantId: string, member: string): void {
    const mine = this.held.get(tenantId);
    mine?.delete(member);
    if (mine?.size === 0) this.held.delete(tenantId);
  }

  /** A slot released while its renewal is in flight may be re-added: it then counts until it expires, no longer. */
  private async renew(): Promise<void> {
    await Promise.all([...this.held].map(([tenantId, members]) => this.redis.socketSlotRenew(this.keyOf(tenantId), SLOT_TTL_MS, ...members).catch(() => {})));
  }

  private keyOf(tenantId: string): string {
    return `${this.prefix}:sockets:${tenantId}`;
  }
}
