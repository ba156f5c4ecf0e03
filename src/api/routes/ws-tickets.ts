import type { FastifyInstance } from 'fastify';
import { issueTicket } from '../../auth/ws-tickets.js';
import { WsTicket } from '../../contract/index.js';
import type { ApiDeps } from '../deps.js';

/** A browser trades its API key (sent as a header here) for a single-use WebSocket ticket. */
export async function wsTicketRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.post<{ Reply: WsTicket }>('/v1/ws-tickets', { bodyLimit: 1024, schema: { response: { 201: WsTicket } } }, async (req, reply) => {
    const { ticket, expiresAt } = await issueTicket(deps.redis, deps.channelPrefix, req.caller, deps.config.WS_TICKET_TTL_SECONDS);
    return reply.code(201).send({ object: 'ws_ticket', ticket, expires_at: expiresAt.toISOString() });
  });
}
