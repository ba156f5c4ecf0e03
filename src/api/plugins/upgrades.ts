import type { FastifyInstance } from 'fastify';
import { ApiProblem } from '../problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on routes that take a WebSocket upgrade (they have a `wsHandler`); read by `refuseStrayUpgrades`. */
    websocket?: boolean;
  }
}

/**
 * A WebSocket upgrade is answered only by a WebSocket route. @fastify/websocket upgrades a request to
 * any route (answering 101) and then closes the socket, waiting up to 30 s for the client's close frame:
 * on a public route (`/healthz`, `/docs`, `/assets/…`) anyone could hold sockets open that way, with no
 * key and outside every socket cap. Such an upgrade answers `404 route_not_found` before the upgrade,
 * like a path that does not exist. Call after registering @fastify/websocket (it marks `req.ws`) and
 * before any route.
 */
export function refuseStrayUpgrades(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.wsHandler || route.websocket) route.config = { ...route.config, websocket: true };
  });
  app.addHook('onRequest', async (req) => {
    if (!req.ws || req.routeOptions.url === undefined || req.routeOptions.config.websocket === true) return;
    throw new ApiProblem(
      404,
      'route_not_found',
      `no WebSocket route ${req.method} ${req.url.split('?')[0]}: WebSockets are served at /v1/events and /v1/jobs/{id}/events`,
    );
  });
}
