import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { publicRoutes } from './auth.js';

/**
 * The web dashboard, built by `npm run build` (web/build.mjs) into dist/web: `/` is its page, `/assets/`
 * its hashed files. Resolved from the repository root, which is three levels up from both
 * src/api/plugins (tsx) and dist/api/plugins (compiled).
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/**
 * Register with `await app.register(dashboard)`. Encapsulated on purpose: @fastify/static is also
 * registered by the docs UI, and its reply decorators must not meet. The page needs no API key (it is
 * public code); every /v1 request it makes carries the key the user entered.
 */
export async function dashboard(app: FastifyInstance): Promise<void> {
  publicRoutes(app);
  await app.register(fastifyStatic, {
    root: `${DASHBOARD_DIR}assets`,
    prefix: '/assets/',
    decorateReply: false,
    index: false,
    // Names carry a content hash: a new build is a new name, so browsers may keep these forever.
    cacheControl: true,
    immutable: true,
    maxAge: '365d',
    setHeaders: (reply) => reply.header('x-content-type-options', 'nosniff'),
  });

  app.get('/', { schema: { hide: true } }, async (req: FastifyRequest, reply: FastifyReply) => {
    let html: string;
    try {
      // Read per request (a few hundred bytes) so a rebuild shows without a restart.
      html = await readFile(`${DASHBOARD_DIR}index.html`, 'utf8');
    } catch {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('retry-after', '60')
        .send(
          '<!doctype html><title>distill</title><p>The dashboard is not built. Run <code>npm run build</code> (npm ci does it), then reload. The API is at <a href="/docs">/docs</a>.</p>',
        );
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', contentSecurityPolicy(req.headers.host))
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html);
  });
}

/**
 * Scripts and connections from this origin only (WebSockets named explicitly: not every browser counts
 * ws: as 'self'); inline styles allowed because the charts and progress bars size elements with them.
 */
function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host && /^[\w.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
