import { resolve } from 'node:path';
import Type, { type Static, type TSchema } from 'typebox';
import Value from 'typebox/value';
import type { BackendChoice } from './ml/backend/index.js';

// Listed here rather than imported, so the API process does not load tfjs to read its config.
const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const satisfies readonly BackendChoice[];

/**
 * Every setting the product reads from the environment, with its default and what it means.
 * This is the only module that reads `process.env`; the README's configuration table is this list.
 */
export const SETTINGS = {
  DATABASE_URL: setting(Type.String({ pattern: '^postgres(ql)?://' }), 'postgresql://postgres@127.0.0.1:5432/distill', 'Postgres connection string (the system of record).'),
  REDIS_URL: setting(Type.String({ pattern: '^rediss?://' }), 'redis://127.0.0.1:6379', 'Redis connection string (queue and live events).'),
  HOST: setting(Type.String({ minLength: 1 }), '127.0.0.1', 'Address the API listens on.'),
  PORT: setting(Type.Integer({ minimum: 0, maximum: 65535 }), 8080, 'Port the API listens on (0 picks a free one).'),
  PUBLIC_URL: setting(Type.String(), '', 'Base URL clients use to reach the API (for download links); empty: derived from the request.'),
  LOG_LEVEL: setting(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info', 'pino log level.'),
  WORKERS: setting(Type.Integer({ minimum: 0, maximum: 64 }), 1, 'Worker processes `distill up` starts beside the API.'),
  WORKER_CONCURRENCY: setting(Type.Integer({ minimum: 1, maximum: 64 }), 1, 'Jobs one worker process trains at once (each in its own child process).'),
  QUEUE_NAME: setting(Type.String({ pattern: '^[A-Za-z0-9_-]+$' }), 'distill-jobs', 'BullMQ queue name; also scopes the live-event channels.'),
  JOB_ATTEMPTS: setting(Type.Integer({ minimum: 1, maximum: 20 }), 3, 'Attempts per job before it fails; a retry resumes from the last checkpoint.'),
  ARTIFACT_DIR: setting(Type.String({ minLength: 1 }), resolve('.data/artifacts'), 'Directory of the artifact store (models, checkpoints, uploads).'),
  TRAINING_BACKEND: setting(oneOf(BACKEND_CHOICES), 'auto', 'tfjs backend for training: auto picks tensorflow-gpu > tensorflow > wasm > cpu.'),
  RECONCILE_INTERVAL_SECONDS: setting(Type.Integer({ minimum: 1, maximum: 3600 }), 30, 'How often workers re-enqueue non-terminal jobs that Redis lost.'),
  DB_RETRY_SECONDS: setting(Type.Integer({ minimum: 0, maximum: 3600 }), 120, 'How long a worker keeps retrying a Postgres write (restart, dropped connection) before it gives the attempt up.'),
  SHUTDOWN_GRACE_SECONDS: setting(Type.Integer({ minimum: 1, maximum: 600 }), 30, 'How long a stopping process waits for running work before it exits.'),
  WEBHOOK_ALLOWED_HOSTS: setting(Type.String(), '', 'Comma-separated hosts (host or host:port) webhooks may be sent to; empty allows none.'),
  MAX_EPOCHS: setting(Type.Integer({ minimum: 1 }), 200, 'Largest number of epochs a job may ask for, per model.'),
  MAX_BODY_BYTES: setting(Type.Integer({ minimum: 1024 }), 1_048_576, 'Largest JSON request body.'),
  MAX_UPLOAD_BYTES: setting(Type.Integer({ minimum: 1024 }), 64 * 1024 ** 2, 'Largest dataset or model upload (all its files together); gzipped IDX files may unpack to at most this much too.'),
  MAX_SAMPLE_EPOCHS: setting(Type.Integer({ minimum: 1 }), 20_000_000, 'Largest job: training samples × epochs, summed over the models a job trains.'),
  MAX_MODEL_MACS: setting(Type.Integer({ minimum: 1 }), 50_000_000, 'Largest model: multiply-adds of one forward pass per sample (about its weight count for dense layers).'),
  RATE_LIMIT_PER_MINUTE: setting(Type.Integer({ minimum: 1 }), 1200, 'Requests per minute per tenant (shared by every API process through Redis).'),
  MAX_ACTIVE_JOBS_PER_TENANT: setting(Type.Integer({ minimum: 1 }), 100, 'Queued + running jobs one tenant may have.'),
  MAX_STORED_BYTES_PER_TENANT: setting(Type.Integer({ minimum: 1 }), 10 * 1024 ** 3, 'Bytes of artifacts, datasets and models one tenant may store.'),
  WS_TICKET_TTL_SECONDS: setting(Type.Integer({ minimum: 1, maximum: 3600 }), 60, 'Lifetime of a single-use WebSocket ticket (POST /v1/ws-tickets).'),
  MAX_EVENT_LOOP_DELAY_MS: setting(Type.Integer({ minimum: 0 }), 1000, 'The API answers 503 while its event loop lags more than this (0 disables the check).'),
  WS_ALLOWED_ORIGINS: setting(Type.String(), '', 'Comma-separated browser origins allowed to open WebSockets besides the API\'s own; empty allows only same-origin.'),
} as const;

function oneOf<const T extends readonly string[]>(values: T) {
  return Type.Enum([...values] as T[number][]);
}

export type Config = { [K in keyof typeof SETTINGS]: Static<(typeof SETTINGS)[K]['schema']> };

interface Setting<S extends TSchema> {
  schema: S;
  fallback: Static<S>;
  description: string;
}

function setting<S extends TSchema>(schema: S, fallback: Static<S>, description: string): Setting<S> {
  return { schema, fallback, description };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, { schema, fallback }] of Object.entries(SETTINGS) as [string, Setting<TSchema>][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      config[name] = fallback;
      continue;
    }
    // Integers are written as integers: Convert alone would take "80.5", "true" or "0x50" for a port.
    const integer = (schema as { type?: string }).type === 'integer';
    const value = integer && !/^-?\d+$/.test(raw.trim()) ? raw : Value.Convert(schema, raw);
    if (Value.Check(schema, value)) config[name] = value;
    else problems.push(`${name}=${JSON.stringify(raw)} is invalid: expected ${describe(schema)}`);
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config as Config;
}

function describe(schema: TSchema): string {
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum)) return `one of ${s.enum.join(', ')}`;
  const bounds = [s.minimum !== undefined && `>= ${s.minimum}`, s.maximum !== undefined && `<= ${s.maximum}`].filter(Boolean);
  if (s.type === 'integer') return `an integer${bounds.length ? ` ${bounds.join(' and ')}` : ''}`;
  if (s.pattern) return `a string matching ${s.pattern}`;
  return `a ${String(s.type)}`;
}

