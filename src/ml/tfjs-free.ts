/**
 * The engine's public API that does not load TensorFlow.js: job specs and their checks, memory
 * estimates, events, errors, checkpoints, dataset parsers, and the types of reports and models. The
 * API process imports this (never ./index.ts), so it starts without tfjs; ./index.ts is this plus the
 * engine itself (runJob, backends, models), for the processes that train or load models.
 *
 * The rule, checked by dependency-cruiser in `npm test` (.dependency-cruiser.cjs): code outside
 * src/ml imports only src/ml/index.ts or src/ml/tfjs-free.ts, and nothing this module loads at run
 * time reaches @tensorflow (`import type` of engine types is fine: it is gone once compiled).
 */
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
  withDefaults,
  pickEngineSpec,
  teacherKey,
  teacherList,
  TEACHER_KEYS,
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
export { schemaProblems } from './schema-problems.js';
export { checkSpec, builtinFacts, type DatasetFacts } from './spec-check.js';
export {
  LayerPairSchema,
  HintSpecSchema,
  AttentionSpecSchema,
  METHODS,
  scheduleAt,
  type Method,
  type Schedule,
  type LayerPair,
  type ResolvedDistillation,
} from './spec-distillation.js';
export { estimateJobMemory, largestPart, type MemoryEstimate, type MemoryEstimateInput, type MemoryPart, type GivenTeacherFacts } from './memory-estimate.js';
export { planAdapt, type AdaptPlan } from './data/adapt-plan.js';
export { modelInputShape, modelLayers } from './models/presets.js';
export { walkLayers, type ShapeWalk } from './models/shapes.js';
export {
  PHASES,
  type EngineEvent,
  type Phase,
  type TrainingPhase,
  type ModelRole,
  type Progress,
  type PhaseEvent,
  type MetricsEvent,
  type EpochEvent,
  type CheckpointEvent,
  type LogEvent,
} from './events.js';
export {
  EngineError,
  DataError,
  SpecError,
  ModelError,
  JobCancelledError,
  DivergedError,
  MemoryLimitError,
  type DataErrorCode,
  type ModelErrorCode,
  type EngineErrorCode,
  type SpecProblem,
} from './errors.js';
export { encodeCheckpoint, decodeCheckpoint, CheckpointError, type Checkpoint } from './checkpoint.js';
export type { ModelArtifacts, ModelJson, WeightsManifestEntry } from './models/artifacts.js';
export type { Dataset, Samples } from './data/types.js';
export { parseIdx, parseIdxPair, datasetFromIdx } from './data/idx.js';
export { parseCsv } from './data/csv.js';
export { validateDataset } from './data/prepare.js';
export { BACKENDS, type BackendChoice, type BackendName } from './backend/names.js';
export { DEFAULT_ONNX_INPUT, ONNX_LAYOUTS, ONNX_OUTPUTS, channelsOf, type OnnxInputDeclaration, type OnnxModelFacts } from './onnx/declaration.js';
export { onnxTeacherProblems, isOnnxSource, type OnnxModelSource, type GivenModelFacts } from './onnx/teacher-checks.js';
export { probeBackends, predictBackend, type BackendFacts, type Prediction, type LibraryFact } from './backend/probe.js';
// Types only: the modules that define them load tfjs, and `export type` is gone once compiled.
export type { Report, ModelReport, ClassAccuracy, DistillationReport } from './report.js';
export type { EpochTerms } from './train/fit.js';
export type { BackendInfo } from './backend/index.js';
export type { Diagnosis } from './backend/diagnose.js';
export { ExportSpecSchema, resolveExport, type ExportSpec, type ResolvedExport } from './spec-export.js';
export type { Quantization } from './export/quantize.js';
export type { ExportFile, ExportReport } from './export/job-exports.js';
export { mergeExportReports } from './export/merge-report.js';
