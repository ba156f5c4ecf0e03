import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { createDb } from '../db/client.js';
import type { Logger } from '../log.js';
import { channelPrefixFor, createTrainQueue } from '../queue/queue.js';
import { createWebhookQueue, scheduleWebhook } from '../queue/webhooks.js';
import { createRedis } from '../redis.js';
import { DirectoryArtifactStore } from '../storage/artifact-store.js';
import { buildApp } from './app.js';
import type { ApiDeps } from './deps.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import { createRegistry } from '../metrics/registry.js';
import { EventHub } from './live/event-hub.js';
import { SocketRegistry } from './live/socket-registry.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Opens the connections the API needs, listens, and returns a handle that closes all of it. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const db = createDb(config.DATABASE_URL);
  const redis = createRedis(config.REDIS_URL, 'producer', 'api');
  const subscriber = createRedis(config.REDIS_URL, 'subscriber', 'api-events');
  const queue = createTrainQueue(config.QUEUE_NAME, redis);
  const webhookQueue = createWebhookQueue(config.QUEUE_NAME, redis);
  const channelPrefix = channelPrefixFor(config.QUEUE_NAME);
  const registry = createRegistry('api');
  const sockets = new SocketRegistry();
  const deps: ApiDeps = {
    config,
    log,
    db,
    redis,
    queue,
    hub: new EventHub(subscriber, channelPrefix, db),
    store: new DirectoryArtifactStore(config.ARTIFACT_DIR),
    channelPrefix,
    registry,
    sockets,
    metrics: createApiMetrics(registry, db, queue, sockets),
    notifyTerminal: (jobId) => scheduleWebhook(webhookQueue, db, jobId),
  };
  const app = await buildApp(deps);
  await app.listen({ host: config.HOST, port: config.PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
  log.info({ url, docs: `${url}/docs` }, 'API listening');
  return {
    app,
    url,
    async close() {
      // Stop accepting, let in-flight requests finish; sockets are closed by Fastify's websocket plugin.
      await app.close();
      await Promise.allSettled([queue.close(), webhookQueue.close()]);
      subscriber.disconnect();
      redis.disconnect();
      await db.$disconnect();
    },
  };
}
