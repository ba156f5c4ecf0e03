import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { publicRoutes } from './auth.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));

/** openapi.yaml is the contract: served as written at /openapi.yaml, browsable at /docs. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  const text = readFileSync(OPENAPI_PATH, 'utf8');
  // Its own scope, every route in it public (needs no key): swagger-ui registers several under /docs.
  await app.register(async (docs) => {
    publicRoutes(docs);
    await docs.register(swagger, { mode: 'static', specification: { path: OPENAPI_PATH, baseDir: '' } });
    await docs.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
    docs.get('/openapi.yaml', { schema: { hide: true } }, async (_req, reply) => reply.type('application/yaml').send(text));
  });
}
