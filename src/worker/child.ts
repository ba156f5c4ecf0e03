/**
 * The sandboxed training process: one per job attempt, forked by the worker. Training blocks its event
 * loop for long stretches; here that starves nothing, while the worker keeps renewing BullMQ's lock.
 * It talks to the worker only over IPC and writes only to the artifact store; the worker owns Postgres.
 */
import {
  DataError,
  decodeCheckpoint,
  encodeCheckpoint,
  EngineError,
  type EngineSpec,
  initBackend,
  JobCancelledError,
  MemoryLimitError,
  ModelError,
  runJob,
  tf,
} from '../ml/index.js';
import { loadStoredDataset } from '../resources/dataset-files.js';
import { describeModel } from '../resources/model-check.js';
import { type JobModel, loadStoredModel } from '../resources/model-files.js';
import { jobKey, openArtifactStore } from '../storage/artifact-store.js';
import { loadStoredOnnx } from '../resources/onnx-models.js';
import type { ChildMessage, ParentMessage, StoredFile } from './protocol.js';

const send = (message: ChildMessage) => new Promise<void>((resolve, reject) => process.send?.(message, (err: Error | null) => (err ? reject(err) : resolve())));

const MEMORY_REPORT_MS = 2000;
/** The resident set is checked this often; training yields to the event loop every 25 ms or so. */
const MEMORY_CHECK_MS = 200;
const MiB = 2 ** 20;
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
  const store = openArtifactStore(start.artifactDir);
  watchMemory(start.memoryBudgetMb);
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
        return (await loadStoredOnnx(store, key)) ?? loadStoredModel(store, key);
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
      for (const [file, data] of [
        ['model.json', modelJson],
        ['weights.bin', model.weights],
      ] as const) {
        const stored = await store.put(jobKey(start.jobId, ...prefix, kind, file), data);
        files.push({ kind, file, ...stored });
      }
      if (kind !== 'baseline') models.push({ role: kind, storageKey: jobKey(start.jobId, ...prefix, kind), ...(await describeModel(model)) });
    }
    for (const f of outcome.exports ?? [])
      files.push({ kind: f.kind, file: f.file, ...(await store.put(jobKey(start.jobId, ...prefix, f.kind, f.file), f.data)) });
    const report = outcome.report as unknown as Record<string, unknown>;
    const reportFile = await store.put(jobKey(start.jobId, ...prefix, 'report', 'report.json'), new TextEncoder().encode(JSON.stringify(report, null, 2)));
    files.push({ kind: 'report', file: 'report.json', ...reportFile });
    // What the job left behind in tfjs: the worker logs it with the attempt's end (the soak reads it).
    await reportMemory();
    await send({ type: 'done', report, files, models });
  } catch (err) {
    await fail(asEngineError(err, start.memoryBudgetMb), err);
  }
  process.disconnect?.();
}

/** Tells the worker how the job failed: the engine's code and message, and the raw error for its log. */
function fail(known: EngineError | undefined, raw: unknown): Promise<void> {
  const error = raw instanceof Error ? raw : new Error(String(raw));
  return send({
    type: 'failed',
    error: { code: known?.code ?? 'internal_error', message: known?.message ?? error.message, name: error.name, detail: error.stack ?? error.message },
    cancelled: raw instanceof JobCancelledError,
    engine: known !== undefined,
  });
}

/** An allocation the process cannot make (a typed array past its limits, the wasm heap unable to grow) is the job's size, not bad luck. */
function asEngineError(err: unknown, budgetMb: number): EngineError | undefined {
  if (err instanceof EngineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError && /typed array length|Array buffer allocation failed|Invalid array length|allocation failed/i.test(message)) {
    return new MemoryLimitError(`the job needs a larger array than the training process can allocate (budget ${budgetMb} MiB, WORKER_MEMORY_BUDGET_MB)`);
  }
  if (/Cannot enlarge memory|out of memory|could not allocate memory/i.test(message) || /\bOOM\b/.test(message)) {
    return new MemoryLimitError(`the job needs more memory than the training process's heap can grow to (budget ${budgetMb} MiB, WORKER_MEMORY_BUDGET_MB)`);
  }
  return undefined;
}

/**
 * The hard cap: the V8 heap is capped by --max-old-space-size (set by the worker), and this watches
 * the whole resident set (typed arrays and the wasm heap included). Past the budget the job fails
 * with memory_limit_exceeded and the child exits, before the machine runs short for its neighbours.
 */
function watchMemory(budgetMb: number): void {
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss <= budgetMb * MiB) return;
    clearInterval(timer);
    const error = new MemoryLimitError(
      `the training process grew to ${Math.round(rss / MiB)} MiB, past the worker's memory budget of ${budgetMb} MiB (WORKER_MEMORY_BUDGET_MB); use fewer or smaller samples, models or batches`,
    );
    void fail(error, error).finally(() => process.exit(1));
  }, MEMORY_CHECK_MS);
  timer.unref();
}
