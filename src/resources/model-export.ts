/**
 * Exports of a stored model after the fact (a finished job's models, a model downloaded as ONNX): run in
 * the upload check child (upload-checks.ts), never on the API's event loop, because exporting loads
 * TensorFlow.js and ONNX Runtime and checks the export against tfjs, seconds of CPU for a large model.
 * The files go to the store; the API gets their keys back, not their bytes.
 */
import { artifactsToModel, checkedOnnxOf, DataError, ExportError, exportFinishedJob, exportStored, tf } from '../ml/index.js';
import type { ExportFile, ExportReport, Quantization, ResolvedExport } from '../ml/tfjs-free.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { loadStoredDataset } from './dataset-files.js';
import { ResourceError } from './errors.js';
import { loadStoredModel } from './model-files.js';
import type { FinishedJob, StoredExport } from './upload-checks.js';

const unsupported = (err: unknown) => (err instanceof ExportError ? new ResourceError(400, 'export_unsupported', err.message) : err);

/**
 * The files `request` asks for of a finished job's models, written under `outPrefix/<kind>/<file>` unless
 * the job has them already, and the report rows its own run would have written, made on its test split. A job whose uploaded dataset
 * is gone is exported as stored models are (checked on generated inputs), without report rows.
 */
export async function exportJob(
  store: ArtifactStore,
  job: FinishedJob,
  request: ResolvedExport,
  outPrefix: string,
): Promise<{ files: StoredExport[]; report?: ExportReport }> {
  await tf.ready();
  const models = await Promise.all(job.models.map(async (m) => ({ kind: m.kind, artifacts: await loadStoredModel(store, m.key) })));
  const resolveDataset = async (id: string) => {
    const key = job.datasets[id];
    if (!key) throw new DataError('unknown_source', `dataset ${id} does not exist (or was deleted)`);
    return loadStoredDataset(store, key);
  };
  let made: { files: ExportFile[]; report?: ExportReport };
  try {
    made = await exportFinishedJob(job.spec, resolveDataset, models, request);
  } catch (err) {
    if (!(err instanceof DataError && err.code === 'unknown_source')) throw unsupported(err);
    const files: ExportFile[] = [];
    for (const m of models)
      files.push(...(await exportStored(m.artifacts, m.kind, request, m.kind === 'student').catch((e: unknown) => Promise.reject(unsupported(e)))));
    made = { files };
  }
  const stored: StoredExport[] = [];
  for (const f of made.files.filter((f) => !job.stored.includes(`${f.kind}/${f.file}`))) {
    const put = await store.put(`${outPrefix}/${f.kind}/${f.file}`, f.data);
    stored.push({ kind: f.kind, file: f.file, key: put.key, bytes: put.bytes, sha256: put.sha256 });
  }
  return { files: stored, ...(made.report ? { report: made.report } : {}) };
}

/** The ONNX file of the model stored under `modelKey` (checked against tfjs), written to `outKey`. */
export async function exportStoredOnnx(store: ArtifactStore, modelKey: string, quantize: Quantization | undefined, outKey: string): Promise<StoredExport> {
  await tf.ready();
  const model = await artifactsToModel(await loadStoredModel(store, modelKey));
  try {
    const bytes = await checkedOnnxOf(model, quantize).catch((err: unknown) => {
      throw unsupported(err);
    });
    const put = await store.put(outKey, bytes);
    return { kind: 'model', file: 'model.onnx', key: put.key, bytes: put.bytes, sha256: put.sha256 };
  } finally {
    model.dispose();
  }
}
