import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import type { ApiDeps } from './deps.js';
import { registerDocs } from './plugins/docs.js';
import { registerErrorHandling } from './plugins/errors.js';
import { artifactRoutes } from './routes/artifacts.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';

/** The API as a value: no listen, no signals. server.ts runs it; tests inject into it or listen on port 0. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: deps.config.MAX_BODY_BYTES,
    genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128
      ? req.headers['x-request-id']
      : crypto.randomUUID()),
  });
  // Query strings and paths are text, so they are coerced to the schema's types; JSON bodies never
  // are: `{"a": 1}` where a string is expected is an error, not "1".
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false });
  const exact = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? exact : coercing).compile(schema));
  // Only JSON bodies are accepted (415 otherwise).
  app.removeContentTypeParser('text/plain');
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  registerErrorHandling(app);
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  await registerDocs(app);
  for (const routes of [healthRoutes, jobRoutes, eventRoutes, artifactRoutes]) {
    await app.register(async (scope) => routes(scope, deps));
  }
  return app;
}
