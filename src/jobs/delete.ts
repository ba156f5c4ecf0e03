/**
 * Deleting a finished job: its rows (events, artifacts, checkpoints, webhook deliveries, idempotency
 * links), its files in the artifact store, and the models it registered — except models another job
 * names (as a teacher, whatever that job's status): those stay as standalone models, their files copied
 * to `models/<id>` (counted in the tenant's storage like an uploaded model), `source: job` with
 * `source_job: null`. Used by the API (DELETE /v1/jobs/{id}) and by the workers' retention sweep.
 *
 * Crash safety: Postgres first, files after. Every row that names a file is gone (or re-pointed at its
 * copy) when the transaction commits; the job's folder is removed after. A crash in between leaves a
 * folder no row names, which the workers' orphan sweep removes after its grace period.
 */
import type { Db, DbClient } from '../db/client.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { jobKey, modelKey } from '../storage/artifact-store.js';
import { isTerminal, TERMINAL_STATUSES } from './status.js';

export type JobDeleteOutcome =
  | { kind: 'missing' }
  | { kind: 'active'; status: string }
  | {
      kind: 'deleted';
      /** Models the job registered that went with it. */
      deletedModels: string[];
      /** Models the job registered that other jobs name: kept as standalone models. */
      keptModels: Array<{ id: string; usedBy: string[] }>;
      /** How much the tenant's counted storage dropped. */
      freedBytes: number;
    };

/** Copying a kept model's files happens under the row locks; a model is bounded by the upload and job limits. */
const TRANSACTION_TIMEOUT_MS = 120_000;

export async function deleteJob(db: Db, store: ArtifactStore, scope: { tenantId?: string }, id: string): Promise<JobDeleteOutcome> {
  const outcome = await db.$transaction(
    async (tx) => {
      // The same lock a cancel takes: a cancel racing this delete runs wholly before or after it.
      await tx.$queryRaw`SELECT 1 FROM jobs WHERE id = ${id} FOR UPDATE`;
      const job = await tx.job.findFirst({ where: { id, ...scope }, select: { tenantId: true, status: true } });
      if (!job) return { kind: 'missing' as const };
      if (!isTerminal(job.status)) return { kind: 'active' as const, status: job.status };
      // Pairs with the share lock a submission takes on the models it names (submitJob): a job naming one
      // of these models either committed before (and is found below) or finds the model gone.
      const models = await tx.$queryRaw<Array<{ id: string; storage_key: string; bytes: bigint }>>`
        SELECT id, storage_key, bytes FROM models WHERE source_job_id = ${id} ORDER BY id FOR UPDATE`;
      const artifactBytes = await tx.artifact.aggregate({ where: { jobId: id }, _sum: { bytes: true } });
      const keptModels: Array<{ id: string; usedBy: string[] }> = [];
      const deletedModels: string[] = [];
      let keptBytes = 0n;
      for (const model of models) {
        const usedBy = await jobsNaming(tx, job.tenantId, model.id, id);
        if (usedBy.length === 0) {
          deletedModels.push(model.id);
          continue;
        }
        const key = modelKey(model.id);
        await copyPrefix(store, model.storage_key, key);
        await tx.model.update({ where: { id: model.id }, data: { storageKey: key, sourceJobId: null } });
        keptModels.push({ id: model.id, usedBy });
        keptBytes += model.bytes;
      }
      if (deletedModels.length > 0) await tx.model.deleteMany({ where: { id: { in: deletedModels } } });
      await tx.idempotencyKey.deleteMany({ where: { tenantId: job.tenantId, jobId: id } });
      // Events, artifacts, checkpoints and webhook deliveries go with it (ON DELETE CASCADE).
      await tx.job.delete({ where: { id } });
      const freedBytes = Number((artifactBytes._sum.bytes ?? 0n) - keptBytes);
      return { kind: 'deleted' as const, deletedModels, keptModels, freedBytes };
    },
    { timeout: TRANSACTION_TIMEOUT_MS },
  );
  if (outcome.kind === 'deleted') await store.remove(jobKey(id));
  return outcome;
}

/** The tenant's other jobs (any status) that name `modelId` as a teacher. */
async function jobsNaming(tx: DbClient, tenantId: string, modelId: string, except: string): Promise<string[]> {
  const single = JSON.stringify({ teacher: { model_id: modelId } });
  const many = JSON.stringify([{ model_id: modelId }]);
  const rows = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM jobs
    WHERE tenant_id = ${tenantId} AND id <> ${except}
      AND (spec @> ${single}::jsonb OR spec -> 'teachers' @> ${many}::jsonb)
    ORDER BY id`;
  return rows.map((r) => r.id);
}

/** Copies every file directly under `from` to the same name under `to` (a model is model.json and weights.bin). */
async function copyPrefix(store: ArtifactStore, from: string, to: string): Promise<void> {
  for (const { name } of await store.children(from)) {
    await store.put(`${to}/${name}`, await store.get(`${from}/${name}`));
  }
}

/** Finished jobs whose finished_at is older than `days` days, oldest first (for the retention sweep). */
export async function expiredJobs(db: DbClient, days: number, limit: number, now = Date.now()): Promise<string[]> {
  const before = new Date(now - days * 86_400_000);
  const rows = await db.job.findMany({
    where: { status: { in: [...TERMINAL_STATUSES] }, finishedAt: { lt: before } },
    select: { id: true },
    orderBy: { finishedAt: 'asc' },
    take: limit,
  });
  return rows.map((r) => r.id);
}

export interface RetentionDeps {
  db: Db;
  store: ArtifactStore;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Called once per job deleted (a metric). */
  onDeleted?: (outcome: Extract<JobDeleteOutcome, { kind: 'deleted' }>) => void;
  /** Checked between jobs: a stopping worker ends the sweep there (the next sweep goes on). */
  stopping?: () => boolean;
}

const RETENTION_BATCH = 100;

/**
 * Deletes finished jobs older than `days` (0: none), a batch at a time, through deleteJob: one log line
 * per job. Several workers may sweep at once; a job another one deleted first is simply missing.
 * Returns the ids deleted.
 */
export async function deleteExpiredJobs(deps: RetentionDeps, days: number, now = Date.now()): Promise<string[]> {
  if (days <= 0) return [];
  const deleted: string[] = [];
  for (;;) {
    const ids = await expiredJobs(deps.db, days, RETENTION_BATCH, now);
    let progressed = false;
    for (const id of ids) {
      if (deps.stopping?.()) return deleted;
      const outcome = await deleteJob(deps.db, deps.store, {}, id).catch((err: Error) => {
        deps.log.warn({ jobId: id, err: err.message }, 'retention could not delete job');
        return undefined;
      });
      if (outcome?.kind !== 'deleted') continue;
      progressed = true;
      deleted.push(id);
      deps.log.info(
        {
          jobId: id,
          retentionDays: days,
          deletedModels: outcome.deletedModels,
          keptModels: outcome.keptModels.map((m) => m.id),
          freedBytes: outcome.freedBytes,
        },
        'job deleted by retention',
      );
      deps.onDeleted?.(outcome);
    }
    if (ids.length < RETENTION_BATCH || !progressed) return deleted;
  }
}
