import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { adoptApiKey } from '../auth/api-keys.js';
import type { Config } from '../config.js';
import { createDb, type DbClient } from '../db/client.js';
import type { Logger } from '../log.js';
import { channelPrefixFor, createTrainQueue } from '../queue/queue.js';
import { scheduleWebhook } from '../jobs/webhooks.js';
import { createWebhookQueue } from '../queue/webhooks.js';
import { createRedis } from '../redis.js';
import { openConfiguredStore } from '../storage/artifact-store.js';
import { buildApp } from './app.js';
import type { ApiDeps } from './deps.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import { createRegistry } from '../metrics/registry.js';
import { EventHub } from './live/event-hub.js';
import { SocketRegistry } from './live/socket-registry.js';

/**
 * How long the API waits for its Redis connection before it listens. The connection fails fast (no
 * offline queue), so a request in the moments before it is ready would answer 503; with Redis down the
 * API still starts, and /readyz says so.
 */
const REDIS_READY_WAIT_MS = 5000;

function redisReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}

/**
 * ADMIN_API_KEY: the first key of a deployment that cannot read `distill up`'s output (containers). Applied
 * before the API listens, so no request meets a stack without it; if Postgres cannot be reached the API fails to
 * start (and its supervisor restarts it) rather than run without the key its operator configured.
 */
async function applyAdminKey(db: DbClient, key: string, log: Logger): Promise<void> {
  const outcome = await adoptApiKey(db, key, 'default', true);
  const prefix = key.slice(0, 12);
  if (outcome === 'created') log.info({ prefix, tenant: 'default' }, 'ADMIN_API_KEY stored as an admin key of tenant "default"');
  else if (outcome === 'revoked')
    log.warn({ prefix }, 'ADMIN_API_KEY names a revoked key: it stays revoked (set another one, or create keys with `distill keys create`)');
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Opens the connections the API needs, listens, and returns a handle that closes all of it. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const db = createDb(config.DATABASE_URL);
  if (config.ADMIN_API_KEY) await applyAdminKey(db, config.ADMIN_API_KEY, log);
  const redis = createRedis(config.REDIS_URL, 'producer', 'api');
  const subscriber = createRedis(config.REDIS_URL, 'subscriber', 'api-events');
  const queue = createTrainQueue(config.QUEUE_NAME, redis, 'api');
  const webhookQueue = createWebhookQueue(config.QUEUE_NAME, redis, 'api');
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
    store: openConfiguredStore(config),
    channelPrefix,
    registry,
    sockets,
    metrics: createApiMetrics(registry, db, queue, sockets),
    notifyTerminal: (jobId) => scheduleWebhook(webhookQueue, db, jobId),
  };
  const app = await buildApp(deps);
  await redisReady(redis, REDIS_READY_WAIT_MS);
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
