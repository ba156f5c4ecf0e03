/**
 * The sandboxed training process: one per job attempt, forked by the worker. Training blocks its event
 * loop for long stretches; here that starves nothing, while the worker keeps renewing BullMQ's lock.
 * It talks to the worker only over IPC and writes only to the artifact store; the worker owns Postgres.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../ml/backend/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../ml/checkpoint.js';
import { runJob } from '../ml/run-job.js';
import type { EngineSpec } from '../ml/spec.js';
import { DataError, EngineError, JobCancelledError, ModelError } from '../ml/errors.js';
import { loadStoredDataset } from '../resources/dataset-files.js';
import { describeModel, type JobModel, loadStoredModel } from '../resources/model-files.js';
import { DirectoryArtifactStore, jobKey } from '../storage/artifact-store.js';
import type { ChildMessage, ParentMessage, StoredFile } from './protocol.js';

const send = (message: ChildMessage) =>
  new Promise<void>((resolve, reject) => process.send?.(message, (err: Error | null) => (err ? reject(err) : resolve())));

const MEMORY_REPORT_MS = 2000;
const abort = new AbortController();
const savedCheckpoints = new Map<number, () => void>();

process.on('message', (message: ParentMessage) => {
  if (message.type === 'start') void run(message);
  else if (message.type === 'abort') abort.abort(message.reason);
  else if (message.type === 'checkpoint-saved') savedCheckpoints.get(message.seq)?.();
});
// The worker died: nobody will read our results, and its successor re-runs the job.
process.on('disconnect', () => process.exit(0));
void send({ type: 'listening' });

function reportMemory(): Promise<void> {
  const { numTensors, numBytes } = tf.memory();
  return send({ type: 'memory', tensors: numTensors, bytes: numBytes });
}

async function run(start: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  const store = new DirectoryArtifactStore(start.artifactDir);
  try {
    const backend = await initBackend(start.backend);
    await send({ type: 'ready', backend });
    setInterval(() => void reportMemory(), MEMORY_REPORT_MS).unref();
    const resumeFrom = start.checkpointKey ? decodeCheckpoint(await store.get(start.checkpointKey)) : undefined;
    let seq = start.checkpointSeq;
    const outcome = await runJob(start.spec as EngineSpec, {
      backend: start.backend,
      signal: abort.signal,
      resumeFrom,
      onEvent: (event) => void send({ type: 'event', event }),
      resolveDataset: async (id) => {
        const key = start.resources.datasets[id];
        if (!key) throw new DataError('unknown_source', `dataset ${id} does not exist (or was deleted)`);
        return loadStoredDataset(store, key);
      },
      resolveModel: async (id) => {
        const key = start.resources.models[id];
        if (!key) throw new ModelError('model_not_found', `model ${id} does not exist (or was deleted)`);
        return loadStoredModel(store, key);
      },
      onCheckpoint: async (checkpoint) => {
        seq += 1;
        const key = jobKey(start.jobId, 'checkpoints', `${start.attempt}-${seq}.bin`);
        const saved = await store.put(key, encodeCheckpoint(checkpoint));
        // Training goes on only once the worker has recorded the checkpoint in Postgres.
        const recorded = new Promise<void>((resolve) => savedCheckpoints.set(seq, resolve));
        await send({ type: 'checkpoint', seq, key, bytes: saved.bytes, phase: checkpoint.phase, epoch: checkpoint.epoch });
        await recorded;
        savedCheckpoints.delete(seq);
      },
    });
    const files: StoredFile[] = [];
    const models: JobModel[] = [];
    const prefix = ['attempts', String(start.attempt)];
    for (const [kind, model] of Object.entries(outcome.models)) {
      if (!model) continue;
      const modelJson = new TextEncoder().encode(JSON.stringify(model.modelJson));
      for (const [file, data] of [['model.json', modelJson], ['weights.bin', model.weights]] as const) {
        const stored = await store.put(jobKey(start.jobId, ...prefix, kind, file), data);
        files.push({ kind, file, ...stored });
      }
      if (kind !== 'baseline') models.push({ role: kind, storageKey: jobKey(start.jobId, ...prefix, kind), ...(await describeModel(model)) });
    }
    const report = outcome.report as unknown as Record<string, unknown>;
    const reportFile = await store.put(jobKey(start.jobId, ...prefix, 'report', 'report.json'), new TextEncoder().encode(JSON.stringify(report, null, 2)));
    files.push({ kind: 'report', file: 'report.json', ...reportFile });
    // What the job left behind in tfjs: the worker logs it with the attempt's end (the soak reads it).
    await reportMemory();
    await send({ type: 'done', report, files, models });
  } catch (err) {
    const error = err as Error;
    await send({
      type: 'failed',
      error: { code: err instanceof EngineError ? err.code : 'internal_error', message: error.message, name: error.name },
      cancelled: err instanceof JobCancelledError,
      engine: err instanceof EngineError,
    });
  }
  process.disconnect?.();
}
