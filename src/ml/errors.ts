/**
 * The engine's one error hierarchy. Every error carries a stable `code` the job service maps to an
 * API error and a job status; the message is for humans.
 */
export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export type DataErrorCode =
  | 'idx_bad_magic'
  | 'idx_truncated'
  | 'count_mismatch'
  | 'csv_non_numeric'
  | 'csv_bad_header'
  | 'csv_ragged_row'
  | 'csv_bad_label'
  | 'csv_not_text'
  | 'too_many_classes'
  | 'empty'
  | 'one_class'
  | 'non_finite'
  | 'shape_mismatch'
  | 'unknown_source';

/** The data cannot be used as given: the message names the file, row or value at fault. */
export class DataError extends EngineError {
  constructor(
    override readonly code: DataErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** `invalid_model`: an uploaded ONNX model refused by its checks (an upload's code; in a job it reads as `model_unreadable`). */
export type ModelErrorCode = 'model_not_found' | 'model_unreadable' | 'model_shape_mismatch' | 'invalid_model' | 'export_unsupported';

/** Every code an engine error carries: what a failed job's `error.code` says when the engine failed it. */
export type EngineErrorCode = DataErrorCode | ModelErrorCode | 'invalid_spec' | 'bad_checkpoint' | 'cancelled' | 'diverged' | 'memory_limit_exceeded';

export interface SpecProblem {
  /** JSON pointer into the job spec, e.g. `/student/model/layers/2/units`. */
  path: string;
  message: string;
  /** The JSON-Schema keyword that failed (`required`, `maximum`, …); absent for the engine's checks beyond the schema. */
  keyword?: string;
  /** With `required`: the missing property, so the problem can name it as its own field. */
  missingProperty?: string;
}

/** The spec cannot be run. `path` is the first problem's JSON pointer; `problems` lists them all. */
export class SpecError extends EngineError {
  readonly path: string;
  constructor(readonly problems: SpecProblem[]) {
    const first = problems[0] ?? { path: '', message: 'invalid spec' };
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    super('invalid_spec', `${first.path || '/'}: ${first.message}${more}`);
    this.path = first.path;
  }
}

/** A given model (teacher by id, or checkpoint) does not fit the job. */
export class ModelError extends EngineError {
  constructor(
    override readonly code: ModelErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

/** The caller aborted the job's signal; training stopped between two batches. Never retry. */
export class JobCancelledError extends EngineError {
  constructor(message = 'job cancelled') {
    super('cancelled', message);
  }
}

/** Training produced a non-finite loss (NaN or infinite): the run cannot recover. Never retry. */
export class DivergedError extends EngineError {
  constructor(message: string) {
    super('diverged', message);
  }
}

/** The job needs more memory than the training process may use. Never retry. */
export class MemoryLimitError extends EngineError {
  constructor(message: string) {
    super('memory_limit_exceeded', message);
  }
}
