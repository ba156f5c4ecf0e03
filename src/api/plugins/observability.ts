import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { mergedMetrics } from '../../metrics/registry.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';

/**
 * /metrics for Prometheus (this API process, every live worker, jobs and queue), a latency histogram
 * per route, and overload protection: while the event loop lags past the bound, requests get 503.
 */
export async function registerObservability(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  if (deps.config.MAX_EVENT_LOOP_DELAY_MS > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: deps.config.MAX_EVENT_LOOP_DELAY_MS,
      retryAfter: 5,
      pressureHandler: (_req, _reply, type, value) => {
        throw new ApiProblem(503, 'overloaded', `the server is overloaded (${type} ${Math.round(Number(value))}); retry shortly`, { retry_after: 5 });
      },
    });
  }
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const { text, contentType } = await mergedMetrics(deps.registry, deps.redis, deps.channelPrefix);
    return reply.type(contentType).send(text);
  });
}
