import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { mergedMetrics } from '../../metrics/registry.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';

const OVERLOADED_RETRY_AFTER_S = 5;

/** What a person reads in a 503 overloaded: what is behind, by how much, and when to come back. */
function overloadedDetail(type: string, value: number, limitMs: number): string {
  // Infinity: the event loop never came round in the whole sampling interval, so there is no figure.
  const lag = Number.isFinite(value) ? `it is ${Math.round(value)} ms behind on its work` : 'it has been too busy to measure how far behind its work is';
  const why = type === 'eventLoopDelay' ? `${lag} (more than the ${limitMs} ms it allows)` : `its ${type} is over its limit (${Math.round(value)})`;
  return `the server is too busy to take this request: ${why}; nothing was done, retry in ${OVERLOADED_RETRY_AFTER_S} s`;
}

/**
 * /metrics for Prometheus (this API process, every live worker, jobs and queue), a latency histogram
 * per route, and overload protection: while the event loop lags past the bound, requests get 503.
 */
export async function registerObservability(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  if (deps.config.MAX_EVENT_LOOP_DELAY_MS > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: deps.config.MAX_EVENT_LOOP_DELAY_MS,
      retryAfter: OVERLOADED_RETRY_AFTER_S,
      pressureHandler: (_req, _reply, type, value) => {
        throw new ApiProblem(503, 'overloaded', overloadedDetail(type, Number(value), deps.config.MAX_EVENT_LOOP_DELAY_MS), {
          retry_after: OVERLOADED_RETRY_AFTER_S,
        });
      },
    });
  }
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true }, config: { public: true } }, async (_req, reply) => {
    const { text, contentType } = await mergedMetrics(deps.registry, deps.redis, deps.channelPrefix);
    return reply.type(contentType).send(text);
  });
}
