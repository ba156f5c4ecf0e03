import { ConnectionClosedError } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { CONNECTION_CLOSED_ERROR_MSG } from 'ioredis/built/utils/index.js';

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

/** errno codes of a socket that cannot reach, or lost, its server. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * ioredis rejects a command on a closed connection, or on a fail-fast one (no offline queue) that is not
 * open, with a plain Error of a fixed text and no code: ioredis itself and BullMQ tell them by that text.
 */
const IOREDIS_UNAVAILABLE = new Set([CONNECTION_CLOSED_ERROR_MSG, "Stream isn't writeable and enableOfflineQueue options is false"]);

/**
 * Whether `err` says that Redis (the server `redis` connects to) cannot be reached, rather than that a
 * command was wrong: BullMQ's ConnectionClosedError, ioredis's MaxRetriesPerRequestError (a class it
 * does not export, told by its name) or fixed texts above, or a socket error (by `code`) from a
 * connection to Redis's own port (Postgres and the artifact store raise the same codes).
 */
export function isRedisUnavailable(err: unknown, redis: Pick<Redis, 'options'>): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof ConnectionClosedError || err.name === 'MaxRetriesPerRequestError' || IOREDIS_UNAVAILABLE.has(err.message)) return true;
  const { code, port } = err as NodeJS.ErrnoException & { port?: number };
  return code !== undefined && CONNECTION_CODES.has(code) && port === redis.options.port;
}
