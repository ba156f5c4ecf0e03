/**
 * Datasets as resources: an upload becomes a ready dataset only once the engine's loaders accept it,
 * and a refused upload leaves neither a row nor a file. Identical bytes (per tenant) are one dataset.
 */
import { BUILTIN, type Dataset } from '../contract/index.js';
import type { Db } from '../db/client.js';
import { Prisma } from '../db/client.js';
import type { Dataset as DatasetRow } from '../db/generated/client.js';
import { activeJobsUsing } from '../jobs/references.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { type PlannedDataset, planDataset, storeDataset } from './dataset-files.js';
import { type CheckLimits, checkStoredDataset, type DatasetLimits } from './upload-checks.js';
import type { Upload } from './upload.js';

export const datasetKey = (id: string) => `datasets/${id}`;

/** The built-in datasets, listed before uploads; a job names them by these ids. */
export const BUILTIN_DATASETS: Dataset[] = [
  {
    id: BUILTIN.mnist,
    name: '10,000 real handwritten digits (28×28×1, 10 classes)',
    num_train: 10_000,
    input_shape: [28, 28, 1],
    num_classes: 10,
    class_names: Array.from({ length: 10 }, (_, d) => String(d)),
  },
  {
    id: BUILTIN.synthetic,
    name: 'generated clusters: dataset.options set classes, features or shape, and samples',
    num_train: null,
    input_shape: null,
    num_classes: null,
    class_names: [],
  },
].map((d): Dataset => ({ ...d, object: 'dataset', format: 'builtin', status: 'ready', error: null, num_test: null, bytes: 0, sha256: null, created_at: null }));

export function toDatasetObject(row: DatasetRow): Dataset {
  return {
    id: row.id,
    object: 'dataset',
    name: row.name,
    format: row.format as Dataset['format'],
    status: row.status,
    error: row.error,
    num_train: row.numTrain,
    num_test: row.numTest,
    input_shape: row.inputShape,
    num_classes: row.numClasses,
    class_names: row.classNames,
    bytes: Number(row.bytes),
    sha256: row.sha256,
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * Checks, stores and records an upload. Returns the existing dataset when the tenant already uploaded
 * the same files (`created: false`). Throws ResourceError for anything the engine refuses.
 */
export async function createDataset(
  db: Db,
  store: ArtifactStore,
  tenantId: string,
  id: string,
  upload: Upload,
  limits: { dataset: DatasetLimits; check: CheckLimits },
): Promise<{ row: DatasetRow; created: boolean }> {
  const key = datasetKey(id);
  // The files are already under `key` (readUpload streamed them there): checked from the store (off
  // this event loop), removed again if refused or already uploaded.
  let planned: PlannedDataset | undefined;
  try {
    planned = planDataset(upload);
    const existing = await db.dataset.findFirst({ where: { tenantId, sha256: planned.sha256 } });
    if (existing) {
      await store.remove(key);
      return { row: existing, created: false };
    }
    await storeDataset(store, key, planned);
    const dataset = await checkStoredDataset(store, key, limits.dataset, limits.check);
    const row = await db.dataset.create({
      data: {
        id,
        tenantId,
        name: planned.name ?? null,
        format: planned.manifest.format,
        status: 'ready',
        numTrain: dataset.numTrain,
        numTest: dataset.numTest,
        inputShape: dataset.shape,
        numClasses: dataset.classNames.length,
        classNames: dataset.classNames,
        bytes: BigInt(planned.bytes),
        sha256: planned.sha256,
        storageKey: key,
      },
    });
    return { row, created: true };
  } catch (err) {
    await store.remove(key).catch(() => {});
    // The same bytes uploaded concurrently: the other request's dataset is this one.
    if (planned && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      const row = await db.dataset.findFirst({ where: { tenantId, sha256: planned.sha256 } });
      if (row) return { row, created: false };
    }
    throw err;
  }
}

export type DeleteOutcome = { kind: 'missing' } | { kind: 'in_use'; jobs: string[] } | { kind: 'deleted' };

/**
 * Deletes a dataset no queued or running job uses. The row lock pairs with the share lock a job
 * submission takes (submitJob), so a job cannot slip in between the check and the delete.
 */
export async function deleteDataset(db: Db, store: ArtifactStore, scope: { tenantId?: string }, id: string): Promise<DeleteOutcome> {
  const outcome = await db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 FROM datasets WHERE id = ${id} FOR UPDATE`;
    const row = await tx.dataset.findFirst({ where: { id, ...scope } });
    if (!row) return { kind: 'missing' as const };
    const jobs = await activeJobsUsing(tx, row.tenantId, id);
    if (jobs.length > 0) return { kind: 'in_use' as const, jobs };
    await tx.dataset.delete({ where: { id } });
    return { kind: 'deleted' as const, storageKey: row.storageKey };
  });
  if (outcome.kind !== 'deleted') return outcome;
  if (outcome.storageKey) await store.remove(outcome.storageKey);
  return { kind: 'deleted' };
}
