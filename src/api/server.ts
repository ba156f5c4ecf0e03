import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { createDb } from '../db/client.js';
import type { Logger } from '../log.js';
import { createRedis } from '../redis.js';
import { buildApp } from './app.js';
import type { ApiDeps } from './deps.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Opens the connections the API needs, listens, and returns a handle that closes all of it. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const deps: ApiDeps = {
    config,
    log,
    db: createDb(config.DATABASE_URL),
    redis: createRedis(config.REDIS_URL, 'producer', 'api'),
  };
  const app = await buildApp(deps);
  // Sockets and in-flight requests get the grace period; then the process goes regardless.
  await app.listen({ host: config.HOST, port: config.PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
  log.info({ url }, 'API listening');
  return {
    app,
    url,
    async close() {
      await app.close();
      deps.redis.disconnect();
      await deps.db.$disconnect();
    },
  };
}
