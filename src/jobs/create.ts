/**
 * POST /v1/jobs without HTTP: the Idempotency-Key claimed (or its job replayed), the request checked
 * (./request-checks.ts), the job submitted (./submit.ts), and every way that can end as one outcome the
 * route answers. A claimed key is released again unless the job was created, so a corrected request
 * may reuse it.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import type { Job } from '../db/generated/client.js';
import { admissionLimits } from '../queue/admission.js';
import type { Priority, TrainJobData } from '../queue/queue.js';
import { pickEngineSpec } from '../ml/tfjs-free.js';
import { canonicalJson, sha256 } from './canonical-json.js';
import { claimKey, releaseKey } from './idempotency.js';
import { referencesOf } from './references.js';
import { type FieldProblem, jobRequestProblems } from './request-checks.js';
import { assertNever } from './status.js';
import { type SubmitDeps, type Submission, submitJob } from './submit.js';

/** The job body as POST /v1/jobs received it, already checked against its schema (api/schemas/job.ts). */
export interface JobRequestBody {
  name?: string;
  metadata?: Record<string, string>;
  priority?: Priority;
  max_runtime_seconds?: number;
  webhook?: { url: string; secret: string };
  /** The engine's part: dataset, teacher(s), student, distillation, seed. */
  [engineField: string]: unknown;
}

export interface CreateJobDeps {
  db: Db;
  redis: Redis;
  queue: Queue<TrainJobData>;
  channelPrefix: string;
  config: Config;
  log: SubmitDeps['log'];
}

export type CreateJobOutcome =
  /** `replayed`: the Idempotency-Key's first request made it; this one gets it back. */
  | { kind: 'created'; job: Job; replayed: boolean }
  | { kind: 'invalid'; problems: FieldProblem[] }
  | { kind: 'refused'; status: 400 | 409 | 422 | 429; code: string; message: string; retryAfter?: number };

export async function createJob(deps: CreateJobDeps, tenantId: string, body: JobRequestBody, idempotencyKey: unknown): Promise<CreateJobOutcome> {
  const { db } = deps;
  const key = idempotencyKey;
  if (key !== undefined && (typeof key !== 'string' || key.length < 1 || key.length > 255)) {
    return refused(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
  }
  if (key) {
    const claim = await claimKey(db, tenantId, key, sha256(canonicalJson(body)));
    if (claim.kind === 'other_body') return refused(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
    if (claim.kind === 'in_flight')
      return refused(409, 'idempotency_request_in_flight', 'a request with this Idempotency-Key is still being processed; retry shortly');
    if (claim.kind === 'replay') {
      const job = await db.job.findFirst({ where: { id: claim.jobId, tenantId } });
      if (job) return { kind: 'created', job, replayed: true };
    }
  }
  // Quotas are checked after the replay (in submitJob): a retried request gets its job back even if the
  // tenant is at its quota now.
  let outcome: CreateJobOutcome;
  try {
    outcome = await checkAndSubmit(deps, tenantId, body, key);
  } catch (err) {
    if (key) await releaseKey(db, tenantId, key).catch(() => {});
    throw err;
  }
  if (outcome.kind !== 'created' && key) await releaseKey(db, tenantId, key).catch(() => {});
  return outcome;
}

async function checkAndSubmit(deps: CreateJobDeps, tenantId: string, body: JobRequestBody, key: string | undefined): Promise<CreateJobOutcome> {
  const { db, config } = deps;
  const spec = pickEngineSpec(body) as unknown as Record<string, unknown>;
  const problems = await jobRequestProblems(db, config, tenantId, spec, body.webhook);
  if (problems.length) return { kind: 'invalid', problems };
  const submission = await submitJob(
    {
      db,
      redis: deps.redis,
      queue: deps.queue,
      channelPrefix: deps.channelPrefix,
      admission: admissionLimits(config),
      maxActiveJobs: config.MAX_ACTIVE_JOBS_PER_TENANT,
      maxStoredBytes: config.MAX_STORED_BYTES_PER_TENANT,
      log: deps.log,
    },
    {
      tenantId,
      name: body.name,
      spec,
      metadata: body.metadata ?? {},
      priority: body.priority ?? 'normal',
      maxRuntimeSeconds: body.max_runtime_seconds,
      webhook: body.webhook,
      references: referencesOf(spec),
      ...(key ? { idempotencyKey: key } : {}),
    },
  );
  return outcomeOf(submission, config);
}

function outcomeOf(submission: Submission, config: Config): CreateJobOutcome {
  switch (submission.kind) {
    case 'created':
      return { kind: 'created', job: submission.job, replayed: false };
    case 'quota_active_jobs':
      return refused(429, 'quota_active_jobs', `at most ${config.MAX_ACTIVE_JOBS_PER_TENANT} jobs may be queued or running at once`, 30);
    case 'quota_storage':
      return refused(
        429,
        'quota_storage',
        `stored bytes (${submission.storedBytes}) are at the quota of ${config.MAX_STORED_BYTES_PER_TENANT}: delete jobs, datasets or models`,
        3600,
      );
    case 'reference_deleted':
      return refused(409, 'reference_deleted', `${submission.gone.join(', ')} was deleted while this job was being submitted`);
    default:
      return assertNever(submission);
  }
}

const refused = (status: 400 | 409 | 422 | 429, code: string, message: string, retryAfter?: number): CreateJobOutcome => ({
  kind: 'refused',
  status,
  code,
  message,
  ...(retryAfter ? { retryAfter } : {}),
});
