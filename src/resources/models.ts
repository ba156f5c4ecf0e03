/**
 * Models as resources: teachers uploaded in the tfjs layers format, and the models every finished job
 * registers (its student and trained teacher, with lineage), so one job's student can teach the next.
 */
import type { Model } from '../contract/index.js';
import type { Db, DbClient } from '../db/client.js';
import type { Model as ModelRow } from '../db/generated/client.js';
import { newId } from '../ids.js';
import { publicLink } from '../public-link.js';
import { activeJobsUsing } from '../jobs/references.js';
import { type ArtifactStore, modelKey } from '../storage/artifact-store.js';
import type { DeleteOutcome } from './datasets.js';
import { checkModelUpload, type JobModel, type ModelDescription, storeModel } from './model-files.js';
import { type CheckLimits, describeStoredModel } from './upload-checks.js';
import { ResourceError } from './errors.js';
import type { Upload } from './upload.js';
import { createOnnxModel, isOnnxUpload, onnxModelFields } from './onnx-models.js';

/** `publicUrl`: PUBLIC_URL, which makes `url` absolute. */
export function toModelObject(row: ModelRow, publicUrl: string): Model {
  return {
    id: row.id,
    object: 'model',
    name: row.name,
    source: row.source,
    source_job: row.sourceJobId,
    role: row.role,
    input_shape: row.inputShape,
    output_shape: row.outputShape,
    parameters: row.parameters,
    bytes: Number(row.bytes),
    sha256: row.sha256,
    /** tf.loadLayersModel(url) reads it and fetches weights.bin beside it. */
    url: publicLink(publicUrl, `/v1/models/${row.id}/model.json`),
    created_at: row.createdAt.toISOString(),
    ...onnxModelFields(row, publicUrl),
  };
}

/** Checks, describes, stores and records an uploaded model; a refused one leaves nothing behind. */
export async function createModel(db: Db, store: ArtifactStore, tenantId: string, id: string, upload: Upload, check: CheckLimits): Promise<ModelRow> {
  const key = modelKey(id);
  try {
    return await create(db, store, tenantId, id, upload, check);
  } catch (err) {
    // The uploaded files are already under the model's folder (readUpload streamed them there).
    await store.remove(key).catch(() => {});
    throw err;
  }
}

async function create(db: Db, store: ArtifactStore, tenantId: string, id: string, upload: Upload, check: CheckLimits): Promise<ModelRow> {
  if (isOnnxUpload(upload)) return createOnnxModel(db, store, tenantId, id, modelKey(id), upload, check);
  const artifacts = checkModelUpload(upload);
  const name = upload.fields.name;
  if (name !== undefined && (name.length < 1 || name.length > 200)) throw new ResourceError(400, 'invalid_upload', 'name must be 1 to 200 characters');
  const key = modelKey(id);
  // Stored first, described from the store (off this event loop), removed again if refused.
  await storeModel(store, key, artifacts);
  const description = await describeStoredModel(store, key, check);
  return await db.model.create({ data: { id, tenantId, name: name ?? null, source: 'uploaded', ...columns(description), storageKey: key } });
}

/** Registers a finished job's models, inside the transaction that records its success. */
export async function registerJobModels(tx: DbClient, job: { id: string; tenantId: string; name: string | null }, models: JobModel[]): Promise<void> {
  const existing = new Set((await tx.model.findMany({ where: { sourceJobId: job.id }, select: { role: true } })).map((m) => m.role));
  const fresh = models.filter((m) => !existing.has(m.role));
  if (fresh.length === 0) return;
  await tx.model.createMany({
    data: fresh.map((m) => ({
      id: newId('mdl'),
      tenantId: job.tenantId,
      name: `${job.name ?? job.id} ${m.role}`.slice(0, 200),
      source: 'job' as const,
      sourceJobId: job.id,
      role: m.role,
      ...columns(m),
      storageKey: m.storageKey,
    })),
  });
}

function columns(d: ModelDescription) {
  return { inputShape: d.inputShape, outputShape: d.outputShape, parameters: d.parameters, bytes: BigInt(d.bytes), sha256: d.sha256 };
}

/**
 * Deletes a model no queued or running job uses. A model stored on its own (`models/<id>`: uploaded, or
 * kept after its job was deleted) takes its files with it; a job's model only loses its entry here, its
 * files stay the job's artifacts.
 */
export async function deleteModel(db: Db, store: ArtifactStore, scope: { tenantId?: string }, id: string): Promise<DeleteOutcome> {
  const outcome = await db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 FROM models WHERE id = ${id} FOR UPDATE`;
    const row = await tx.model.findFirst({ where: { id, ...scope } });
    if (!row) return { kind: 'missing' as const };
    const jobs = await activeJobsUsing(tx, row.tenantId, id);
    if (jobs.length > 0) return { kind: 'in_use' as const, jobs };
    await tx.model.delete({ where: { id } });
    return { kind: 'deleted' as const, storageKey: row.storageKey === modelKey(row.id) ? row.storageKey : undefined };
  });
  if (outcome.kind !== 'deleted') return outcome;
  if (outcome.storageKey) await store.remove(outcome.storageKey);
  return { kind: 'deleted' };
}
