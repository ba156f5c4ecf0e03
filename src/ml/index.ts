/**
 * The distillation engine's public API, for the job service, the worker's child process and the CLI.
 * Nothing under src/ml imports HTTP, queue or database code.
 */
export { runJob, type RunContext, type JobOutcome } from './run-job.js';
export {
  EngineSpecSchema,
  DatasetSpecSchema,
  ModelSpecSchema,
  LayerSpecSchema,
  TeacherSpecSchema,
  StudentSpecSchema,
  TrainingSpecSchema,
  DistillationSpecSchema,
  SyntheticOptionsSchema,
  checkSpec,
  withDefaults,
  pickEngineSpec,
  type EngineSpec,
  type ResolvedSpec,
  type DatasetSpec,
  type ModelSpec,
  type LayerSpec,
  type TeacherSpec,
  type StudentSpec,
  type TrainingSpec,
  type DistillationSpec,
} from './spec.js';
export { LayerPairSchema, HintSpecSchema, AttentionSpecSchema, METHODS, scheduleAt, type Method, type Schedule, type LayerPair, type ResolvedDistillation } from './spec-distillation.js';
export type { DatasetFacts } from './spec-check.js';
export type { EpochTerms } from './train/fit.js';
export { PHASES, type EngineEvent, type Phase, type TrainingPhase, type ModelRole, type Progress, type PhaseEvent, type MetricsEvent, type EpochEvent, type CheckpointEvent, type LogEvent } from './events.js';
export { EngineError, DataError, SpecError, ModelError, JobCancelledError, type DataErrorCode, type SpecProblem } from './errors.js';
export { encodeCheckpoint, decodeCheckpoint, CheckpointError, type Checkpoint } from './checkpoint.js';
export { modelToArtifacts, artifactsToModel, artifactsBytes, type ModelArtifacts, type ModelJson } from './models/serialize.js';
export type { Report, ModelReport, ClassAccuracy, DistillationReport } from './report.js';
export type { Dataset, Samples } from './data/types.js';
export { parseIdx, parseIdxPair, datasetFromIdx } from './data/idx.js';
export { parseCsv } from './data/csv.js';
export { validateDataset } from './data/prepare.js';
