import { resolve } from 'node:path';
import Type, { type Static, type TSchema } from 'typebox';
import Value from 'typebox/value';
import type { BackendChoice } from './ml/tfjs-free.js';

// Listed here rather than imported, so the API process does not load tfjs to read its config.
const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm-blas', 'wasm', 'cpu'] as const satisfies readonly BackendChoice[];

/**
 * Every setting the product reads from the environment, with its default and what it means.
 * This is the only module that reads `process.env`; the README's configuration table is this list.
 */
export const SETTINGS = {
  DATABASE_URL: setting(
    Type.String({ pattern: '^postgres(ql)?://' }),
    'postgresql://postgres@127.0.0.1:5432/distill',
    'Postgres connection string (the system of record).',
  ),
  REDIS_URL: setting(Type.String({ pattern: '^rediss?://' }), 'redis://127.0.0.1:6379', 'Redis connection string (queue and live events).'),
  HOST: setting(Type.String({ minLength: 1 }), '127.0.0.1', 'Address the API listens on.'),
  PORT: setting(Type.Integer({ minimum: 0, maximum: 65535 }), 8080, 'Port the API listens on (0 picks a free one).'),
  PUBLIC_URL: setting(
    Type.String({ pattern: '^(https?://[^\\s?#]+)?$' }),
    '',
    'Base URL clients use to reach the API (http(s)://host[:port][/path]): artifact and model download links and Location headers are absolute on it; empty: they are paths, resolved against the URL the client called.',
  ),
  LOG_LEVEL: setting(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info', 'pino log level.'),
  LOG_FORMAT: setting(
    oneOf(['auto', 'json', 'pretty']),
    'auto',
    'Log lines as JSON (one object a line, for log shippers) or pretty (readable, for people); auto: pretty when stdout is a terminal, JSON otherwise.',
  ),
  WORKERS: setting(Type.Integer({ minimum: 0, maximum: 64 }), 1, 'Worker processes `distill up` starts beside the API.'),
  WORKER_CONCURRENCY: setting(Type.Integer({ minimum: 1, maximum: 64 }), 1, 'Jobs one worker process trains at once (each in its own child process).'),
  QUEUE_NAME: setting(Type.String({ pattern: '^[A-Za-z0-9_-]+$' }), 'distill-jobs', 'BullMQ queue name; also scopes the live-event channels.'),
  JOB_ATTEMPTS: setting(Type.Integer({ minimum: 1, maximum: 20 }), 3, 'Attempts per job before it fails; a retry resumes from the last checkpoint.'),
  ARTIFACT_DIR: setting(Type.String({ minLength: 1 }), resolve('.data/artifacts'), 'Directory of the artifact store (models, checkpoints, uploads).'),
  ARTIFACT_STORE: setting(
    oneOf(['fs', 's3']),
    'fs',
    'Where models, checkpoints and uploads live: fs (ARTIFACT_DIR, a directory every process must share) or s3 (S3_BUCKET, an S3 or S3-compatible bucket; processes then share no disk).',
  ),
  S3_BUCKET: setting(Type.String(), '', 'Bucket of the s3 artifact store (must exist); required when ARTIFACT_STORE=s3.'),
  S3_PREFIX: setting(
    Type.String({ pattern: '^([A-Za-z0-9_.-]+/)*$' }),
    '',
    'Key prefix inside S3_BUCKET (empty or ending in /), so several installations can share a bucket.',
  ),
  S3_ENDPOINT: setting(Type.String(), '', 'S3 endpoint URL for an S3-compatible store (MinIO, Ceph RGW, R2…); empty: AWS S3 of S3_REGION.'),
  S3_REGION: setting(Type.String({ minLength: 1 }), 'us-east-1', 'Region of the bucket (any value for most S3-compatible stores).'),
  S3_FORCE_PATH_STYLE: setting(
    Type.Boolean(),
    false,
    'Address the bucket as ENDPOINT/BUCKET/key rather than BUCKET.ENDPOINT/key (most S3-compatible stores need true).',
  ),
  AWS_ACCESS_KEY_ID: setting(
    Type.String(),
    '',
    "Access key of the s3 store; empty: the AWS SDK's default chain (shared config/profile, web identity, container or instance role).",
  ),
  AWS_SECRET_ACCESS_KEY: setting(Type.String(), '', 'Secret key going with AWS_ACCESS_KEY_ID.'),
  AWS_SESSION_TOKEN: setting(Type.String(), '', 'Session token going with temporary AWS_ACCESS_KEY_ID credentials (optional).'),
  TRAINING_BACKEND: setting(
    oneOf(BACKEND_CHOICES),
    'auto',
    'tfjs backend for training: auto picks tensorflow-gpu > tensorflow > wasm-blas (wasm with OpenBLAS matmuls, where the optional native addon built) > wasm > cpu.',
  ),
  RECONCILE_INTERVAL_SECONDS: setting(Type.Integer({ minimum: 1, maximum: 3600 }), 30, 'How often workers re-enqueue non-terminal jobs that Redis lost.'),
  JOB_RETENTION_DAYS: setting(
    Type.Integer({ minimum: 0, maximum: 36500 }),
    0,
    'Finished jobs (by finished_at) older than this many days are deleted by the workers, with their files and the models no other job names (0 keeps them forever).',
  ),
  SWEEP_INTERVAL_SECONDS: setting(
    Type.Integer({ minimum: 1, maximum: 86400 }),
    3600,
    'How often workers sweep: expired jobs (JOB_RETENTION_DAYS), and upload and job folders no row names (after an hour).',
  ),
  DB_RETRY_SECONDS: setting(
    Type.Integer({ minimum: 0, maximum: 3600 }),
    120,
    'How long a worker keeps retrying a Postgres write (restart, dropped connection) before it gives the attempt up.',
  ),
  SHUTDOWN_GRACE_SECONDS: setting(Type.Integer({ minimum: 1, maximum: 600 }), 30, 'How long a stopping process waits for running work before it exits.'),
  ADMIN_API_KEY: setting(
    Type.String({ pattern: '^(dsk_[A-Za-z0-9_-]{43})?$' }),
    '',
    'An admin API key for tenant "default" that the API stores (hashed) when it starts and no key has that hash yet, so a container deployment has a first key it chose itself; empty: none (`distill up` prints one instead, `distill keys create --admin` makes more). Generate one with `echo dsk_$(openssl rand -base64 32 | tr +/ -_ | tr -d =)`. A revoked key stays revoked.',
  ),
  WEBHOOK_ALLOWED_HOSTS: setting(Type.String(), '', 'Comma-separated hosts (host or host:port) webhooks may be sent to; empty allows none.'),
  MAX_EPOCHS: setting(Type.Integer({ minimum: 1 }), 200, 'Largest number of epochs a job may ask for, per model.'),
  MAX_BODY_BYTES: setting(Type.Integer({ minimum: 1024 }), 1_048_576, 'Largest JSON request body.'),
  MAX_JSON_DEPTH: setting(
    Type.Integer({ minimum: 2, maximum: 1000 }),
    32,
    'Deepest nesting of arrays and objects in a JSON request body (checked before the body is parsed).',
  ),
  MAX_JSON_ITEMS: setting(Type.Integer({ minimum: 1 }), 1000, 'Most items of one array, or keys of one object, in a JSON request body.'),
  MAX_JSON_STRING_CHARS: setting(Type.Integer({ minimum: 64 }), 65_536, 'Longest string or key in a JSON request body, in characters.'),
  MAX_UPLOAD_BYTES: setting(
    Type.Integer({ minimum: 1024 }),
    64 * 1024 ** 2,
    'Largest dataset or model upload (all its files together); gzipped IDX files may unpack to at most this much too.',
  ),
  MAX_SAMPLE_EPOCHS: setting(Type.Integer({ minimum: 1 }), 20_000_000, 'Largest job: training samples × epochs, summed over the models a job trains.'),
  MAX_MODEL_MACS: setting(
    Type.Integer({ minimum: 1 }),
    50_000_000,
    'Largest model: multiply-adds of one forward pass per sample (about its weight count for dense layers).',
  ),
  WORKER_MEMORY_BUDGET_MB: setting(
    Type.Integer({ minimum: 256 }),
    4096,
    'Memory (MiB) one training child may use: a job whose estimated peak is above it is refused at submit (400 naming the field), and a child that grows past it fails its job with memory_limit_exceeded. Size it as (machine memory − API, Postgres, Redis) / (WORKERS × WORKER_CONCURRENCY).',
  ),
  RATE_LIMIT_PER_MINUTE: setting(Type.Integer({ minimum: 1 }), 1200, 'Requests per minute per tenant (shared by every API process through Redis).'),
  UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE: setting(
    Type.Integer({ minimum: 1 }),
    300,
    'Requests per minute one client address may have refused before its tenant is known (no key, a wrong key or ticket, a foreign Origin); past it the address gets 429 without a key lookup (shared through Redis).',
  ),
  MAX_ACTIVE_JOBS_PER_TENANT: setting(Type.Integer({ minimum: 1 }), 100, 'Queued + running jobs one tenant may have.'),
  MAX_DISPATCHED_JOBS_PER_TENANT: setting(
    Type.Integer({ minimum: 1 }),
    4,
    'Jobs of one tenant in the queue or running at once (at most this many workers busy with one tenant); the rest wait in Postgres, highest priority first.',
  ),
  MAX_WAITING_JOBS_PER_TENANT: setting(
    Type.Integer({ minimum: 1 }),
    1,
    'Jobs of one tenant waiting in the queue for a free worker at once; the next enters when one starts, so tenants with work take turns at the workers.',
  ),
  MAX_STORED_BYTES_PER_TENANT: setting(
    Type.Integer({ minimum: 1 }),
    10 * 1024 ** 3,
    'Bytes of artifacts, datasets and models (with their ONNX exports) one tenant may store; at it, uploads, jobs and exports are refused.',
  ),
  WS_TICKET_TTL_SECONDS: setting(Type.Integer({ minimum: 1, maximum: 3600 }), 60, 'Lifetime of a single-use WebSocket ticket (POST /v1/ws-tickets).'),
  MAX_EVENT_LOOP_DELAY_MS: setting(Type.Integer({ minimum: 0 }), 1000, 'The API answers 503 while its event loop lags more than this (0 disables the check).'),
  MAX_SOCKETS_PER_TENANT: setting(
    Type.Integer({ minimum: 1 }),
    200,
    'Open WebSockets one tenant may have, across every API process (kept in Redis); over it an upgrade answers 429 quota_sockets.',
  ),
  TRUST_PROXY: setting(
    Type.String({ maxLength: 1000 }),
    '',
    'Comma-separated addresses or CIDR ranges of the reverse proxies in front of the API, whose X-Forwarded-For names the client: without it, every client behind one proxy shares its address and one of them spending UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE locks all out. Empty trusts none (X-Forwarded-For is ignored).',
  ),
  WS_ALLOWED_ORIGINS: setting(
    Type.String(),
    '',
    "Comma-separated browser origins allowed to open WebSockets besides the API's own; empty allows only same-origin.",
  ),
  MAX_CLASSES: setting(
    Type.Integer({ minimum: 2, maximum: 100_000 }),
    1000,
    'Most classes an uploaded dataset may have (distinct CSV labels, or IDX labels 0…MAX_CLASSES-1); more is refused as too_many_classes.',
  ),
  UPLOAD_CHECK_CONCURRENCY: setting(
    Type.Integer({ minimum: 1, maximum: 64 }),
    2,
    'Uploads one API process receives and checks at once (each check in its own child process); one tenant takes at most half of them (at least one).',
  ),
  UPLOAD_CHECK_QUEUE: setting(
    Type.Integer({ minimum: 0, maximum: 1000 }),
    8,
    'Uploads that may wait for one of those slots (one tenant at most half of them, at least one); beyond that an upload is answered 503 with Retry-After.',
  ),
  UPLOAD_CHECK_MEMORY_MB: setting(
    Type.Integer({ minimum: 64 }),
    1024,
    'Memory (MiB: heap limit and resident size) one upload check may use before it is stopped and the upload refused.',
  ),
  UPLOAD_CHECK_TIMEOUT_MS: setting(
    Type.Integer({ minimum: 1 }),
    120_000,
    'How long one upload check may run (and an upload may wait for a slot) before it is stopped and the upload refused.',
  ),
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

/** Settings whose values an error message must not repeat. */
const SECRET_SETTINGS: ReadonlySet<string> = new Set(['ADMIN_API_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);

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
    else problems.push(`${name}=${SECRET_SETTINGS.has(name) ? '(value hidden)' : JSON.stringify(raw)} is invalid: expected ${describe(schema)}`);
  }
  if (config.ARTIFACT_STORE === 's3' && !config.S3_BUCKET)
    problems.push('S3_BUCKET is required when ARTIFACT_STORE=s3 (the bucket of the artifact store; it must exist)');
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
