/**
 * The API's objects as the dashboard reads them (openapi.yaml is the contract). Declared here rather
 * than imported from the server's sources so the browser bundle depends on the wire format only.
 */
export type JobStatus = 'queued' | 'running' | 'cancelling' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export type ModelRole = 'teacher' | 'student' | 'baseline';
export const ROLES: readonly ModelRole[] = ['teacher', 'student', 'baseline'];

export interface Progress {
  epoch: number | null;
  epochs: number | null;
  step: number | null;
  steps: number | null;
  percent: number;
  eta_seconds: number | null;
}

export interface Job {
  id: string;
  object: 'job';
  name: string | null;
  status: JobStatus;
  phase: string | null;
  progress: Progress;
  attempts: number;
  backend: string | null;
  spec: Record<string, unknown>;
  result: Report | null;
  error: { code: string; message: string } | null;
  last_event_seq: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface JobEvent {
  object: 'event';
  job_id: string;
  seq: number;
  type: 'status' | 'phase' | 'metrics' | 'epoch' | 'checkpoint' | 'log';
  data: Record<string, unknown>;
  created_at: string;
}

/** data of a `metrics` event: the latest training batch. */
export interface MetricsData {
  phase: string;
  model: ModelRole;
  epoch: number;
  step: number;
  loss: number;
  ce?: number;
  kd?: number;
  accuracy: number;
  samples_per_second: number;
  progress: Progress;
}

/** data of an `epoch` event. */
export interface EpochData {
  phase: string;
  model: ModelRole;
  epoch: number;
  epochs: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  progress: Progress;
}

export interface ModelReport {
  test_accuracy: number;
  test_loss: number;
  parameters: number;
  bytes: number;
  latency_ms_per_sample: { batch_1: number; batch_256: number };
}

export interface Report {
  backend: string;
  dataset: { source: string; train_samples: number; validation_samples: number; test_samples: number };
  teacher: ModelReport;
  student: ModelReport;
  baseline?: ModelReport;
  compression_ratio: number;
  size_ratio: number;
  speed_up: { batch_1: number; batch_256: number };
  teacher_student_agreement: number;
  distillation_gain: number | null;
  elapsed_seconds: number;
}

export interface Artifact {
  id: string;
  kind: string;
  file: string;
  bytes: number;
  sha256: string;
  url: string;
}

export interface List<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export interface FieldError {
  /** JSON pointer into the request body, e.g. `/distillation/alpha`. */
  field: string;
  message: string;
}
