import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { Logger } from '../log.js';

/** What the routes need from the outside world; built once per API process by server.ts. */
export interface ApiDeps {
  config: Config;
  log: Logger;
  db: Db;
  /** Fail-fast connection: requests answer 503 rather than wait for Redis. */
  redis: Redis;
}
