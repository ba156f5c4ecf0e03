import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';

const CHECK_TIMEOUT_MS = 1500;

export async function healthRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const [postgres, redis] = await Promise.all([
      probe(() => deps.db.$queryRaw`SELECT 1`),
      probe(() => deps.redis.ping()),
    ]);
    const down = [!postgres.ok && 'postgres', !redis.ok && 'redis'].filter(Boolean) as string[];
    const checks = { postgres, redis };
    if (down.length === 0) return { status: 'ready', checks };
    return reply
      .code(503)
      .type('application/problem+json')
      .send({
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        code: 'dependency_unavailable',
        detail: `not ready: ${down.join(' and ')} unreachable`,
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
