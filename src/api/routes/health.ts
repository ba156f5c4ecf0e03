import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';

const CHECK_TIMEOUT_MS = 1500;
/** What a 503 from /readyz suggests: a dependency's restart is usually seconds away. */
const RETRY_AFTER_S = 5;
/**
 * Probes are never shed as `overloaded`: /healthz says the process lives, /readyz that its dependencies
 * answer (openapi.yaml documents no other 503). A busy instance is slow, not dead or unready, and an
 * orchestrator that restarted or unrouted it for that would only move the load.
 */
const NEVER_SHED = { public: true, pressureHandler: () => undefined };

export async function healthRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/healthz', { schema: { hide: true }, config: NEVER_SHED }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true }, config: NEVER_SHED }, async (_req, reply) => {
    const [postgres, redis] = await Promise.all([probe(() => deps.db.$queryRaw`SELECT 1`), probe(() => deps.redis.ping())]);
    const down = [!postgres.ok && 'postgres', !redis.ok && 'redis'].filter(Boolean) as string[];
    const checks = { postgres, redis };
    if (down.length === 0) return { status: 'ready', checks };
    return reply
      .code(503)
      .header('retry-after', String(RETRY_AFTER_S))
      .type('application/problem+json')
      .send({
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        code: 'dependency_unavailable',
        detail: `not ready: ${down.join(' and ')} unreachable; retry in ${RETRY_AFTER_S} s`,
        retry_after: RETRY_AFTER_S,
        down,
        checks,
      });
  });
}

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; error?: string; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, error: (err as Error).message.split('\n')[0], ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}
