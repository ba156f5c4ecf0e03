import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { needsKey } from './auth.js';
import { ApiProblem } from '../problem.js';

/**
 * Security headers everywhere; a per-tenant request budget kept in Redis, so it holds across API
 * processes. When Redis is down the limiter steps aside rather than take the API down with it.
 */
export async function registerLimits(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await app.register(helmet, {
    // The docs page (swagger-ui) uses inline scripts and styles from its own origin.
    contentSecurityPolicy: {
      directives: { 'script-src': ["'self'", "'unsafe-inline'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] },
    },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
  await app.register(rateLimit, {
    global: true,
    // After authentication (the budget is the tenant's), before validation (refused requests count too).
    hook: 'preValidation',
    max: deps.config.RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    redis: deps.redis,
    nameSpace: `${deps.channelPrefix}:rate:`,
    skipOnError: true,
    // Decided on the matched route, as auth is: public routes are not the tenant's to spend.
    allowList: (req) => !needsKey(req),
    keyGenerator: (req) => req.caller?.tenantId ?? req.ip,
    errorResponseBuilder: (_req, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
      return new ApiProblem(429, 'rate_limited', `more than ${context.max} requests per minute for this tenant; retry in ${retryAfter} s`, {
        retry_after: retryAfter,
      });
    },
  });
}
