/** A child process's whole life: one upload check (see upload-checks.ts), answered with one message. */
import { openArtifactStore } from '../storage/artifact-store.js';
import { parseDataset, readStoredDataset } from './dataset-files.js';
import { ResourceError } from './errors.js';
import { loadStoredModel, type ModelDescription } from './model-files.js';
import type { CheckReply, CheckRequest, DatasetSummary, JobExports } from './upload-checks.js';
import type { OnnxModelFacts } from '../ml/tfjs-free.js';
import type { StoredExport } from './upload-checks.js';

async function check(request: CheckRequest): Promise<DatasetSummary | ModelDescription | OnnxModelFacts | JobExports | StoredExport> {
  const store = openArtifactStore(request.store);
  if (request.kind === 'export') return (await import('./model-export.js')).exportJob(store, request.job, request.request, request.outPrefix);
  if (request.kind === 'export-onnx') return (await import('./model-export.js')).exportStoredOnnx(store, request.key, request.quantize, request.outKey);
  if (request.kind === 'onnx') return (await import('./onnx-check.js')).checkStoredOnnx(store, request.key, request.declared);
  if (request.kind === 'model') {
    // Only a model check loads tfjs (half a second of start-up a dataset check does not need).
    const { describeModel } = await import('./model-check.js');
    return describeModel(await loadStoredModel(store, request.key));
  }
  const dataset = parseDataset(await readStoredDataset(store, request.key), request.limits);
  return { numTrain: dataset.train.y.length, numTest: dataset.test?.y.length ?? null, shape: dataset.shape, classNames: dataset.classNames };
}

process.once('message', async (request: CheckRequest) => {
  let reply: CheckReply;
  try {
    reply = { ok: true, result: await check(request) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    reply = {
      ok: false,
      message,
      ...(err instanceof ResourceError ? { refused: { status: err.status, code: err.code, ...(err.reason ? { reason: err.reason } : {}) } } : {}),
    };
  }
  process.send!(reply, () => process.exit(0));
});
