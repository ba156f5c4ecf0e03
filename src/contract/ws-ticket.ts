import Type, { type Static } from 'typebox';
import { component } from './component.js';

export const WsTicket = component(
  'WsTicket',
  Type.Object(
    {
      object: Type.Literal('ws_ticket'),
      ticket: Type.String({ pattern: '^wst_[A-Za-z0-9_-]{32}$', description: 'Pass it as `?ticket=` on one WebSocket upgrade.' }),
      expires_at: Type.String({ format: 'date-time' }),
    },
    { additionalProperties: false },
  ),
);
export type WsTicket = Static<typeof WsTicket>;
