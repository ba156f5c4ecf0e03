import type { Redis } from 'ioredis';
import { ApiProblem } from '../problem.js';

const WINDOW_MS = 60_000;
/** Addresses remembered as over budget at once; past this the oldest are forgotten first. */
const MAX_BLOCKED = 100_000;

// One round trip: count the refusal, start the minute on the first one, say how long the minute has left.
const SPEND = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

/**
 * Requests refused before the tenant is known (no key, a wrong key, a spent ticket, a foreign Origin),
 * counted per client address in a one-minute window shared by every API process through Redis. Once an
 * address is over its budget, this process remembers it until the window ends and refuses it with 429
 * before any key lookup: a key lookup costs a database query, a refusal from memory costs nothing.
 * Another process learns of the block at its first refusal of that address (the count is shared), so
 * past the budget each process does at most one lookup per address per minute.
 * When Redis is down the budget steps aside, like the tenant limiter.
 */
export class RefusalBudget {
  /** Address → when its window ends (ms since the epoch). */
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly perMinute: number,
  ) {}

  /** Throws 429 when the address is over its budget; costs no I/O. */
  assertUnder(address: string): void {
    const until = this.blocked.get(address);
    if (until === undefined) return;
    const left = until - Date.now();
    if (left <= 0) {
      this.blocked.delete(address);
      return;
    }
    throw this.tooMany(left);
  }

  /** Counts one refusal of the address; throws 429 (instead of the refusal) once it is over budget. */
  async spend(address: string): Promise<void> {
    let counted: [number, number];
    try {
      counted = (await this.redis.eval(SPEND, 1, `${this.prefix}:refused:${address}`, WINDOW_MS)) as [number, number];
    } catch {
      return;
    }
    const [count, ttl] = counted;
    if (count <= this.perMinute) return;
    if (this.blocked.size >= MAX_BLOCKED) this.blocked.delete(this.blocked.keys().next().value as string);
    this.blocked.set(address, Date.now() + ttl);
    throw this.tooMany(ttl);
  }

  private tooMany(leftMs: number): ApiProblem {
    const retryAfter = Math.max(1, Math.ceil(leftMs / 1000));
    return new ApiProblem(
      429,
      'rate_limited',
      `more than ${this.perMinute} requests per minute from this address were refused (no valid API key); retry in ${retryAfter} s`,
      { retry_after: retryAfter },
    );
  }
}
