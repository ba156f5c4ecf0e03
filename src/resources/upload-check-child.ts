/** A child process's whole life: one upload check (see upload-checks.ts), answered with one message. */
import { openArtifactStore } from '../storage/artifact-store.js';
import { parseDataset, readStoredDataset } from './dataset-files.js';
import { ResourceError } from './errors.js';
import type { ModelDescription } from './model-files.js';
import type { CheckReply, CheckRequest, DatasetSummary } from './upload-checks.js';

async function check(request: CheckRequest): Promise<DatasetSummary | ModelDescription> {
  const store = openArtifactStore(request.store);
  if (request.kind === 'model') {
    // Only a model check loads tfjs (half a second of start-up a dataset check does not need).
    const { describeModel, loadStoredModel } = await import('./model-files.js');
    return describeModel(await loadStoredModel(store, request.key));
  }
  const dataset = parseDataset(await readStoredDataset(store, request.key), request.maxBytes);
  return { numTrain: dataset.train.y.length, numTest: dataset.test?.y.length ?? null, shape: dataset.shape, classNames: dataset.classNames };
}

process.once('message', async (request: CheckRequest) => {
  let reply: CheckReply;
  try {
    reply = { ok: true, result: await check(request) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    reply = { ok: false, message, ...(err instanceof ResourceError ? { refused: { status: err.status, code: err.code, ...(err.reason ? { reason: err.reason } : {}) } } : {}) };
  }
  process.send!(reply, () => process.exit(0));
});
