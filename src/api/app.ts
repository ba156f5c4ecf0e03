import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import websocket from '@fastify/websocket';
import { Ajv } from 'ajv';
import type { ApiDeps } from './deps.js';
import { registerAuth } from './plugins/auth.js';
import { dashboard } from './plugins/dashboard.js';
import { registerDocs } from './plugins/docs.js';
import { clientErrorHandler, registerInputGuards } from './plugins/input-guards.js';
import { registerJsonBodyParser } from './plugins/json-body.js';
import { registerLimits } from './plugins/limits.js';
import { registerObservability } from './plugins/observability.js';
import { refuseStrayUpgrades } from './plugins/upgrades.js';
import { registerErrorHandling, sendProblem } from './plugins/errors.js';
import { registerPublicLocation } from './plugins/public-location.js';
import { ApiProblem } from './problem.js';
import { artifactRoutes } from './routes/artifacts.js';
import { exportRoutes } from './routes/exports.js';
import { datasetRoutes } from './routes/datasets.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { modelRoutes } from './routes/models.js';
import { wsTicketRoutes } from './routes/ws-tickets.js';

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The API as a value: no listen, no signals. server.ts runs it; tests inject into it or listen on port 0. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Our own access log (onResponse below) replaces Fastify's, which would print WebSocket tickets.
    logController: new LogController({ disableRequestLogging: true }),
    // A URL Fastify cannot even route (bad percent-encoding) still gets a problem+json answer.
    frameworkErrors: (err, req, reply) => {
      // An upgrade refused here never reaches @fastify/websocket's hooks, which would close its socket.
      if (req.headers.upgrade) reply.raw.once('finish', () => reply.raw.socket?.destroy());
      void sendProblem(reply, new ApiProblem(400, 'bad_request', err.message), req.url);
    },
    clientErrorHandler,
    bodyLimit: deps.config.MAX_BODY_BYTES,
    // req.ip (the unauthenticated refusal budget's key) is the client's, not a proxy's, behind the proxies named here.
    ...(deps.config.TRUST_PROXY.trim() !== ''
      ? {
          trustProxy: deps.config.TRUST_PROXY.split(',')
            .map((a) => a.trim())
            .filter(Boolean),
        }
      : {}),
    // The client's id only when it is plain printable ASCII: it is written into every log line of the request.
    genReqId: (req) =>
      typeof req.headers['x-request-id'] === 'string' && REQUEST_ID.test(req.headers['x-request-id']) ? req.headers['x-request-id'] : crypto.randomUUID(),
  });
  // Query strings and paths are text, so they are coerced to the schema's types; JSON bodies never
  // are: `{"a": 1}` where a string is expected is an error, not "1".
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false });
  const exact = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? exact : coercing).compile(schema));
  // Routes declare their responses from src/contract, but answers are written as JSON.stringify writes
  // them: fast-json-stringify would drop any field a schema does not list and throw on stored JSON (a
  // report, an event's data, written by an older version) that fits no branch of a union. The contract
  // test checks what is sent against openapi.yaml, generated from the same schemas.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Only JSON bodies are accepted (415 otherwise).
  app.removeContentTypeParser('text/plain');
  // JSON bodies are bounded in depth, items and string length before anything walks them.
  registerJsonBodyParser(app, { maxDepth: deps.config.MAX_JSON_DEPTH, maxItems: deps.config.MAX_JSON_ITEMS, maxString: deps.config.MAX_JSON_STRING_CHARS });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  // Our own access log: Fastify's would print WebSocket tickets from the query string.
  app.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, url: redactQuery(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  registerErrorHandling(app, deps.redis);
  registerPublicLocation(app, deps.config.PUBLIC_URL);
  await registerObservability(app, deps);
  // Before auth: its onRequest hook marks upgrades, so an upgrade that auth refuses still has its socket closed.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  refuseStrayUpgrades(app);
  registerAuth(app, deps);
  await registerLimits(app, deps);
  registerInputGuards(app);
  await registerDocs(app);
  await app.register(dashboard);
  for (const routes of [healthRoutes, jobRoutes, eventRoutes, artifactRoutes, exportRoutes, wsTicketRoutes, datasetRoutes, modelRoutes]) {
    await app.register(async (scope) => routes(scope, deps));
  }
  return app;
}

function redactQuery(url: string): string {
  return url.replace(/([?&](?:ticket|key|token)=)[^&]*/gi, '$1[redacted]');
}
