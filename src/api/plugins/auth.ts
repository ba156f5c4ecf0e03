import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Caller, verifyApiKey } from '../../auth/api-keys.js';
import { redeemTicket } from '../../auth/ws-tickets.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking: set for every /v1 route before anything else runs. */
    caller: Caller;
  }
}

const unauthorized = (detail: string) => new ApiProblem(401, 'unauthorized', detail);

/**
 * Every /v1 route needs `Authorization: Bearer <key>`; WebSocket upgrades may instead carry a
 * single-use `?ticket=` (browsers cannot set headers there). Checked in onRequest, so a socket
 * without valid auth is refused before the upgrade.
 */
export function registerAuth(app: FastifyInstance, deps: ApiDeps): void {
  app.decorateRequest('caller', null as unknown as Caller);
  const allowedOrigins = new Set(deps.config.WS_ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean));

  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/')) return;
    const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';
    if (upgrade) checkOrigin(req, allowedOrigins);
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer ([^\s]+)$/i.exec(header);
      if (!match) throw unauthorized('Authorization must be "Bearer <api key>"');
      const caller = await verifyApiKey(deps.db, match[1] as string);
      if (!caller) throw unauthorized('the API key is malformed, unknown or revoked');
      req.caller = caller;
      return;
    }
    const ticket = upgrade ? new URL(req.url, 'http://x').searchParams.get('ticket') : null;
    if (ticket) {
      const caller = await redeemTicket(deps.redis, deps.channelPrefix, ticket);
      if (!caller) throw unauthorized('the WebSocket ticket is invalid, expired or already used');
      req.caller = caller;
      return;
    }
    throw unauthorized('an API key is required: Authorization: Bearer <api key>');
  });
}

/** Browsers send Origin on WebSocket upgrades: same-origin and allow-listed pages only. */
function checkOrigin(req: FastifyRequest, allowed: Set<string>): void {
  const origin = req.headers.origin;
  if (!origin) return; // not a browser
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new ApiProblem(403, 'origin_not_allowed', `origin ${origin} may not open WebSockets here`);
  }
  if (host === req.headers.host || allowed.has(origin)) return;
  throw new ApiProblem(403, 'origin_not_allowed', `origin ${origin} may not open WebSockets here`);
}

/** Scopes a query to what the caller may see: its tenant, or everything for an admin key. */
export function tenantScope(caller: Caller): { tenantId?: string } {
  return caller.admin ? {} : { tenantId: caller.tenantId };
}
