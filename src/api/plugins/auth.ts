import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Caller, isWellFormedKey, verifyApiKey } from '../../auth/api-keys.js';
import { redeemTicket } from '../../auth/ws-tickets.js';
import type { Db } from '../../db/client.js';
import type { ApiDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';
import { RefusalBudget } from './refusal-budget.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking: set for every route that needs a key before anything else runs. */
    caller: Caller;
  }
  interface FastifyContextConfig {
    /** Served without an API key (health, docs, dashboard, metrics). Every other route needs one. */
    public?: boolean;
  }
}

const unauthorized = (detail: string) => new ApiProblem(401, 'unauthorized', detail);

/**
 * Marks every route registered in this scope (and its children) public: for plugins whose routes we do
 * not declare ourselves (swagger-ui, static files). Our own public routes say `config: { public: true }`.
 */
export function publicRoutes(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
}

/**
 * Whether a request needs a key, decided on the route the router matched, never on the URL as sent: the
 * router decodes percent-escapes and accepts absolute-form targets (`GET http://host/v1/jobs`), so a
 * string test on the URL can be spelled around. A request no route matched gets the 404 handler.
 */
export function needsKey(req: FastifyRequest): boolean {
  return req.routeOptions.url !== undefined && req.routeOptions.config.public !== true;
}

/**
 * Deny by default: every route needs `Authorization: Bearer <key>` unless it is public; WebSocket
 * upgrades may instead carry a single-use `?ticket=` (browsers cannot set headers there). Checked in
 * onRequest, so a socket without valid auth is refused before the upgrade. Refusals count against the
 * client address's budget (UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE); an address over it is refused with
 * 429 before its key is looked up.
 */
export function registerAuth(app: FastifyInstance, deps: ApiDeps): void {
  app.decorateRequest('caller', null as unknown as Caller);
  const allowedOrigins = new Set(
    deps.config.WS_ALLOWED_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  );
  const budget = new RefusalBudget(deps.redis, deps.channelPrefix, deps.config.UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE);
  const { authRefusals, keyLookups } = deps.metrics;

  const authenticate = async (req: FastifyRequest): Promise<Caller> => {
    const upgrade = req.headers.upgrade?.toLowerCase() === 'websocket';
    if (upgrade) checkOrigin(req, allowedOrigins);
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer ([^\s]+)$/i.exec(header);
      if (!match) throw unauthorized('Authorization must be "Bearer <api key>"');
      const key = match[1] as string;
      if (isWellFormedKey(key)) keyLookups.inc();
      const caller = await verifyApiKey(deps.db, key);
      if (!caller) throw unauthorized('the API key is malformed, unknown or revoked');
      return caller;
    }
    const ticket = upgrade ? (req.query as Record<string, unknown> | undefined)?.ticket : undefined;
    if (typeof ticket === 'string' && ticket !== '') {
      const caller = await redeemTicket(deps.redis, deps.channelPrefix, ticket, deps.db);
      if (!caller) throw unauthorized('the WebSocket ticket is invalid, expired, already used, or its API key was revoked');
      return caller;
    }
    throw unauthorized('an API key is required: Authorization: Bearer <api key>');
  };

  app.addHook('onRequest', async (req) => {
    if (!needsKey(req)) return;
    try {
      budget.assertUnder(req.ip);
    } catch (err) {
      authRefusals.inc({ outcome: 'throttled' });
      throw err;
    }
    try {
      req.caller = await authenticate(req);
    } catch (err) {
      if (!(err instanceof ApiProblem) || err.status >= 500) throw err;
      authRefusals.inc({ outcome: 'refused' });
      await budget.spend(req.ip);
      throw err;
    }
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

/** Scopes a read to what the caller may see: its tenant, or everything for an admin key. */
export function tenantScope(caller: Caller): { tenantId?: string } {
  return caller.admin ? {} : { tenantId: caller.tenantId };
}

/** Scopes a write (cancel, delete): the caller's own tenant, admin key or not. */
export function writeScope(caller: Caller): { tenantId: string } {
  return { tenantId: caller.tenantId };
}

/**
 * Admin keys read and list every tenant's resources but write only in their own tenant: a cancel or
 * delete of another tenant's resource answers 403 admin_read_only (an admin may see that it exists).
 * Other keys see other tenants' resources as missing, so for them this checks nothing.
 */
export async function assertWritable(db: Db, caller: Caller, what: 'job' | 'dataset' | 'model', id: string): Promise<void> {
  if (!caller.admin) return;
  const where = { where: { id }, select: { tenantId: true } };
  const owner = what === 'job' ? await db.job.findUnique(where) : what === 'dataset' ? await db.dataset.findUnique(where) : await db.model.findUnique(where);
  if (owner && owner.tenantId !== caller.tenantId) {
    throw new ApiProblem(
      403,
      'admin_read_only',
      `${what} ${id} belongs to another tenant: admin keys read every tenant's resources but cancel, delete and create only in their own`,
    );
  }
}
