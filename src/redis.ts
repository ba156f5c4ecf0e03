import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for decides how it behaves when Redis is down (BullMQ's documented settings):
 * - `producer`: the API. Commands fail fast, so a request answers 503 instead of hanging.
 * - `worker`: BullMQ workers and blocking readers. Commands wait for Redis to come back
 *   (`maxRetriesPerRequest: null` is required by BullMQ workers).
 * - `subscriber`: pub/sub listeners; like workers, they wait and resubscribe on reconnect.
 */
export type RedisRole = 'producer' | 'worker' | 'subscriber';

export function createRedis(url: string, role: RedisRole, name?: string): Redis {
  const options: RedisOptions = {
    connectionName: name ? `distill:${name}` : undefined,
    lazyConnect: false,
    // Reconnect forever with a capped backoff: Redis restarts must not need our restart.
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  if (role === 'producer') {
    options.maxRetriesPerRequest = 1;
    options.enableOfflineQueue = false;
    options.connectTimeout = 2000;
  } else {
    options.maxRetriesPerRequest = null;
    options.enableReadyCheck = false;
  }
  const redis = new Redis(url, options);
  // Connection errors surface on the commands that fail; an unhandled 'error' event would crash.
  redis.on('error', () => {});
  return redis;
}
