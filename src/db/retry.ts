import { isRetriableDbError } from './client.js';

export interface RetryOptions {
  /** Give up (rethrow the last error) once this much time has passed since the first try. */
  budgetMs: number;
  /** Told before each wait: which try failed, and how long until the next. */
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

/**
 * Runs `write` until it succeeds, retrying only what `isRetriableDbError` calls transient (Postgres
 * restarting, a dropped connection, a pool timeout) with capped exponential backoff. Anything else,
 * and the last error once the budget is spent, is rethrown. The write must be safe to repeat: a
 * commit whose answer was lost is repeated too (callers fence or check for that).
 */
export async function retryDbWrite<T>(write: () => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = Date.now() + options.budgetMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const delayMs = Math.min(2000, 100 * 2 ** (attempt - 1));
      if (!isRetriableDbError(err) || Date.now() + delayMs > deadline) throw err;
      options.onRetry?.(err, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
