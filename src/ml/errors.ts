/**
 * The engine's one error hierarchy. Every error carries a stable `code` the job service maps to an
 * API error and a job status; the message is for humans.
 */
export class EngineError extends Error {
  constructor(
    readonly code: string,
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

export interface SpecProblem {
  /** JSON pointer into the job spec, e.g. `/student/model/layers/2/units`. */
  path: string;
  message: string;
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
export class ModelError extends EngineError {}

/** The caller aborted the job's signal; training stopped between two batches. Never retry. */
export class JobCancelledError extends EngineError {
  constructor(message = 'job cancelled') {
    super('cancelled', message);
  }
}
