import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Messages a socket may send while over its tenant's budget, each refused, before it is closed. */
export const MAX_MESSAGES_OVER_BUDGET = 10;
/** Close code for a socket that kept sending over its tenant's budget (policy violation). */
export const CLOSE_RATE_LIMITED = 1008;

export type Admission = { verdict: 'admit' } | { verdict: 'refuse' | 'close'; retryAfter: number; max: number };

/**
 * Every message a client sends on a WebSocket is a request against its tenant's budget: the same Redis
 * counter the HTTP rate limiter keeps (RATE_LIMIT_PER_MINUTE per tenant, shared by every API process),
 * taken through the limiter itself so the two cannot drift apart. Over the budget a message is refused
 * ('refuse': the client is told when to retry); a socket that keeps sending regardless is closed ('close').
 * Without the limiter (or while Redis is down, where the limiter steps aside) every message is admitted.
 */
export function messageBudget(app: FastifyInstance): (req: FastifyRequest) => () => Promise<Admission> {
  const limiter = app.hasDecorator('createRateLimit') ? app.createRateLimit() : undefined;
  return (req) => {
    let overBudget = 0;
    return async () => {
      const state = limiter ? await limiter(req).catch(() => undefined) : undefined;
      if (!state || state.isAllowed || !state.isExceeded) {
        overBudget = 0;
        return { verdict: 'admit' };
      }
      overBudget += 1;
      return { verdict: overBudget > MAX_MESSAGES_OVER_BUDGET ? 'close' : 'refuse', retryAfter: Math.max(1, state.ttlInSeconds), max: state.max };
    };
  };
}
