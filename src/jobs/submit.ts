import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../db/client.js';
import { Prisma } from '../db/client.js';
import type { Job } from '../db/generated/client.js';
import { newId } from '../ids.js';
import { type AdmissionLimits, admitJobs } from '../queue/admission.js';
import type { Priority, TrainJobData } from '../queue/queue.js';
import { publishEvents, toEventObject } from './events.js';
import type { References } from './references.js';
import { usageQuery } from './tenant-usage.js';

export interface NewJob {
  tenantId: string;
  name?: string;
  spec: Record<string, unknown>;
  metadata: Record<string, string>;
  priority: Priority;
  maxRuntimeSeconds?: number;
  webhook?: { url: string; secret: string };
  /** The uploaded datasets and models it names: held (share-locked) while the job is created. */
  references: References;
  /** A claimed Idempotency-Key: it is pointed at the new job in the same statement. */
  idempotencyKey?: string;
}

export interface SubmitDeps {
  db: Db;
  redis: Redis;
  queue: Queue<TrainJobData>;
  channelPrefix: string;
  /** The tenant's fair share of the queue: the new job is enqueued only when admitted (queue/admission.ts). */
  admission: AdmissionLimits;
  /** The tenant's quotas: a job is created only below both. */
  maxActiveJobs: number;
  maxStoredBytes: number;
  log: { warn(details: object, message: string): void };
}

export type Submission =
  | { kind: 'created'; job: Job }
  | { kind: 'quota_active_jobs'; activeJobs: number }
  | { kind: 'quota_storage'; storedBytes: number }
  /** A dataset or model it names was deleted after the route checked it. */
  | { kind: 'reference_deleted'; gone: string[] };

const QUEUED_EVENT = { type: 'status', data: { status: 'queued' } } as const;

/**
 * Creates the job in Postgres and only then admits and enqueues it: at once if its tenant has a free
 * slot in the queue, else later, when one of the tenant's jobs starts or ends (queue/admission.ts).
 * If Redis is down at that moment the job is still accepted: the reconciler enqueues it once Redis is back.
 *
 * The quota check, the share locks on what the job names, the job row, its first event and the
 * idempotency key's link are one SQL statement: one round trip instead of a quota query and an
 * interactive transaction of four or more, atomic all the same, and without the query builder's CPU
 * (bench/RESULTS.md, "Submit in one statement": API CPU per POST about halved). The locks pair with the row lock a
 * delete takes: a concurrent delete either waits for the job to exist, then refuses, or wins, and
 * this submission answers reference_deleted.
 */
export async function submitJob(deps: SubmitDeps, job: NewJob): Promise<Submission> {
  const id = newId('job');
  const { tenantId, references } = job;
  const datasets = references.dataset === undefined ? [] : [references.dataset];
  const models = [...new Set(references.models.map((m) => m.id))];
  const [row] = await deps.db.$queryRaw<Array<Partial<Job> & { active: bigint; stored: bigint; heldDatasets: string[]; heldModels: string[] }>>`
    WITH usage AS (${usageQuery(tenantId)}),
    held_datasets AS (SELECT id FROM datasets WHERE id = ANY(${datasets}::text[]) AND tenant_id = ${tenantId} AND status = 'ready' FOR SHARE),
    held_models AS (SELECT id FROM models WHERE id = ANY(${models}::text[]) AND tenant_id = ${tenantId} FOR SHARE),
    allowed AS (
      SELECT 1 FROM usage
      WHERE active < ${deps.maxActiveJobs} AND stored < ${deps.maxStoredBytes}
        AND (SELECT count(*) FROM held_datasets) = ${datasets.length} AND (SELECT count(*) FROM held_models) = ${models.length}
    ),
    job AS (
      INSERT INTO jobs (id, tenant_id, name, priority, spec, metadata, webhook, max_runtime_seconds, last_event_seq)
      SELECT ${id}, ${tenantId}, ${job.name ?? null}, ${job.priority}::"JobPriority", ${JSON.stringify(job.spec)}::jsonb,
        ${JSON.stringify(job.metadata)}::jsonb, ${job.webhook ? JSON.stringify(job.webhook) : null}::jsonb, ${job.maxRuntimeSeconds ?? null}::int, 1
      FROM allowed
      RETURNING *
    ),
    event AS (
      INSERT INTO job_events (job_id, seq, type, data, created_at)
      SELECT id, 1, ${QUEUED_EVENT.type}, ${JSON.stringify(QUEUED_EVENT.data)}::jsonb, created_at FROM job
    ),
    claimed AS (
      UPDATE idempotency_keys k SET job_id = job.id FROM job WHERE k.tenant_id = ${tenantId} AND k.key = ${job.idempotencyKey ?? null}
    )
    SELECT usage.active, usage.stored,
      ARRAY(SELECT id FROM held_datasets) AS "heldDatasets", ARRAY(SELECT id FROM held_models) AS "heldModels",
      ${JOB_FIELDS}
    FROM usage LEFT JOIN job ON true`;
  if (!row) throw new Error('job submission returned no row');
  if (!row.id) {
    if (Number(row.active) >= deps.maxActiveJobs) return { kind: 'quota_active_jobs', activeJobs: Number(row.active) };
    if (Number(row.stored) >= deps.maxStoredBytes) return { kind: 'quota_storage', storedBytes: Number(row.stored) };
    const held = new Set([...row.heldDatasets, ...row.heldModels]);
    return { kind: 'reference_deleted', gone: [...datasets, ...models].filter((ref) => !held.has(ref)) };
  }
  const created = toJob(row);
  // Both at once: the PUBLISH is written first, and the worker's own first event can only follow the add.
  // Admission is a second statement: it counts, under the tenant's lock, what others committed meanwhile.
  await Promise.all([
    publishEvents(deps.redis, deps.channelPrefix, id, [toEventObject({ jobId: id, seq: 1, ...QUEUED_EVENT, createdAt: created.createdAt })]),
    admitJobs({ ...deps.admission, db: deps.db, queue: deps.queue, log: deps.log }, { tenantId }).catch((err: Error) => {
      deps.log.warn({ jobId: id, err: err.message }, 'admission failed; the reconciler will admit the job');
    }),
  ]);
  return { kind: 'created', job: created };
}

/** The jobs table's columns under the Prisma model's field names (the row `job.create` would return). */
const JOB_FIELDS = Prisma.sql`
  job.id, job.tenant_id AS "tenantId", job.name, job.status::text AS status, job.phase, job.priority::text AS priority,
  job.spec, job.metadata, job.progress, job.attempts, job.backend, job.result, job.error, job.webhook,
  job.max_runtime_seconds AS "maxRuntimeSeconds", job.last_event_seq AS "lastEventSeq",
  job.created_at AS "createdAt", job.updated_at AS "updatedAt", job.started_at AS "startedAt", job.finished_at AS "finishedAt",
  job.dispatched_at AS "dispatchedAt"`;

function toJob(row: Partial<Job>): Job {
  const { active: _active, stored: _stored, heldDatasets: _d, heldModels: _m, ...fields } = row as Record<string, unknown>;
  return fields as unknown as Job;
}
