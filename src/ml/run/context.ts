/** What a caller gives runJob and what it gets back. */
import type { BackendChoice } from '../backend/names.js';
import type { Checkpoint } from '../checkpoint.js';
import type { Dataset } from '../data/types.js';
import type { EngineEvent } from '../events.js';
import type { ExportFile } from '../export/job-exports.js';
import type { ModelArtifacts } from '../models/artifacts.js';
import type { OnnxModelSource } from '../onnx/teacher-checks.js';
import type { Report } from '../report.js';

export interface RunContext {
  onEvent(e: EngineEvent): void;
  /** Aborting stops training between two batches; runJob then throws JobCancelledError. */
  signal?: AbortSignal;
  /** A checkpoint of this same spec: finished phases are not rerun, the current one continues. */
  resumeFrom?: Checkpoint;
  /** Awaited after every epoch: persist the checkpoint before training goes on. */
  onCheckpoint?(c: Checkpoint): Promise<void>;
  /** Uploaded datasets (ds_…). */
  resolveDataset?(id: string): Promise<Dataset>;
  /** Stored models (mdl_…) used as teachers. */
  resolveModel?(id: string): Promise<ModelArtifacts | OnnxModelSource>;
  /** Default auto: the best backend that loads (the first call in a process decides). */
  backend?: BackendChoice;
  /** Emit a metrics event every N steps. Default: about four per epoch, at most every 50 steps. */
  metricsEvery?: number;
}

export interface JobOutcome {
  report: Report;
  /**
   * Every model this job trained, by its engine name: `teacher` (the first teacher), `teacher1`,
   * `teacher2`… (further teachers), each only when trained here; `student`; `baseline` when asked for.
   */
  models: { student: ModelArtifacts; teacher?: ModelArtifacts; baseline?: ModelArtifacts; [further: `teacher${number}`]: ModelArtifacts | undefined };
  /** What `export` asked for beyond the float tfjs models: ONNX files, quantized variants. */
  exports?: ExportFile[];
}
