/**
 * The distillation engine's public API, for the processes that train or load models: the worker's
 * training child, the upload check child, and the CLI's `run`, `doctor` and `worker`. Importing it
 * loads TensorFlow.js; the API process imports ./tfjs-free.ts instead (what this module re-exports
 * first). Nothing under src/ml imports HTTP, queue or database code.
 */
export * from './tfjs-free.js';
export { runJob, type RunContext, type JobOutcome } from './run/run-job.js';
export { initBackend, shutdownBackend } from './backend/index.js';
export { diagnose } from './backend/diagnose.js';
export { modelToArtifacts, artifactsToModel, artifactsBytes } from './models/serialize.js';
// onnxruntime: loaded only where a model is checked or trained.
export { inspectOnnx, OnnxRefusal } from './onnx/inspect.js';
// tfjs itself, with the backend initBackend chose, for the few callers that inspect models or memory:
// they reach it through the engine's entry like everything else of the engine.
export * as tf from '@tensorflow/tfjs';
// Exports of a stored model after the fact (the upload check child: src/resources/model-export.ts).
export { checkedOnnxOf, exportStored } from './export/convert-stored.js';
export { exportFinishedJob, type FinishedJobModel } from './export/for-finished-job.js';
export { ExportError } from './export/onnx-export.js';
