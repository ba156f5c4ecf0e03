import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { Redis } from 'ioredis';

/**
 * One Prometheus registry per process, labelled with the process it describes. Workers publish
 * theirs to Redis every few seconds; the API's /metrics merges them, so one scrape shows the API,
 * every worker and the queue together.
 */
export function createRegistry(role: 'api' | 'worker'): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: `${role}-${process.pid}` });
  collectDefaultMetrics({ register: registry });
  return registry;
}

const PUBLISH_EVERY_MS = 5000;
const workersKey = (prefix: string) => `${prefix}:metrics:workers`;

/** Worker side: keeps this process's metrics in a Redis hash, with a timestamp so stale ones drop out. */
export function publishMetrics(registry: Registry, redis: Redis, prefix: string): () => void {
  const field = `${process.pid}`;
  const publish = async () => {
    try {
      const metrics = await registry.getMetricsAsJSON();
      await redis.hset(workersKey(prefix), field, JSON.stringify({ at: Date.now(), metrics }));
    } catch {
      // Redis down: the next round publishes again.
    }
  };
  void publish();
  const timer = setInterval(publish, PUBLISH_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    void redis.hdel(workersKey(prefix), field).catch(() => {});
  };
}

/** API side: this process's metrics plus every worker's that reported in the last three rounds. */
export async function mergedMetrics(registry: Registry, redis: Redis, prefix: string): Promise<{ text: string; contentType: string }> {
  const own = await registry.getMetricsAsJSON();
  let workers: unknown[] = [];
  try {
    const entries = Object.values(await redis.hgetall(workersKey(prefix)));
    workers = entries
      .map((e) => JSON.parse(e) as { at: number; metrics: unknown })
      .filter((e) => Date.now() - e.at < 3 * PUBLISH_EVERY_MS)
      .map((e) => e.metrics);
  } catch {
    // Without Redis the API still reports itself.
  }
  const merged = AggregatorRegistry.aggregate([own, ...workers] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  return { text: await merged.metrics(), contentType: merged.contentType };
}
