import type { FastifyInstance } from 'fastify';
import { publicLink } from '../../public-link.js';

/** With PUBLIC_URL set, every route's Location header is absolute on it: made so once here, not in each route. */
export function registerPublicLocation(app: FastifyInstance, publicUrl: string): void {
  if (!publicUrl) return;
  app.addHook('onSend', async (_req, reply, payload) => {
    const location = reply.getHeader('location');
    if (typeof location === 'string' && location.startsWith('/')) reply.header('location', publicLink(publicUrl, location));
    return payload;
  });
}
