import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { Logger } from '../log.js';
import type { TrainJobData } from '../queue/queue.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import type { Registry } from 'prom-client';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import type { EventHub } from './live/event-hub.js';
import type { SocketRegistry } from './live/socket-registry.js';

/** What the routes need from the outside world; built once per API process by server.ts. */
export interface ApiDeps {
  config: Config;
  log: Logger;
  db: Db;
  /** Fail-fast connection: requests answer 503 rather than wait for Redis. */
  redis: Redis;
  queue: Queue<TrainJobData>;
  hub: EventHub;
  store: ArtifactStore;
  /** Scopes live-event and cancel channels (per queue name). */
  channelPrefix: string;
  registry: Registry;
  metrics: ApiMetrics;
  sockets: SocketRegistry;
  /** Tells the webhook sender a job reached a terminal state here (a queued job cancelled). */
  notifyTerminal(jobId: string): Promise<void>;
}
