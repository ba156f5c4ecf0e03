/**
 * What a client is told when a job fails: a stable code and a message written for a person. Job
 * events, the job object's `error` and webhooks carry this; the raw error (stack, server paths, a
 * dependency's own words) goes to the worker's log only.
 */
import type { JobErrorCode } from '../jobs/job-errors.js';
import { assertNever, type JobError } from '../jobs/status.js';

/** The message for a code whose raw message is not for clients, or whose message failed the check below. */
function genericMessage(code: JobErrorCode): string {
  switch (code) {
    case 'internal_error':
      return "the training process failed unexpectedly; the error is in the worker's log";
    case 'memory_limit_exceeded':
      return "the job needed more memory than the worker's budget (WORKER_MEMORY_BUDGET_MB)";
    case 'diverged':
      return 'training diverged: the loss became NaN or infinite; try a lower learning_rate';
    case 'invalid_spec':
      return 'the job spec cannot be run';
    case 'timeout':
    case 'worker_crashed':
    case 'worker_unavailable':
    case 'database_unavailable':
    case 'worker_lost':
    case 'model_not_found':
    case 'model_unreadable':
    case 'model_shape_mismatch':
    case 'export_unsupported':
    case 'bad_checkpoint':
    case 'unknown_source':
    case 'idx_bad_magic':
    case 'idx_truncated':
    case 'count_mismatch':
    case 'csv_non_numeric':
    case 'csv_bad_header':
    case 'csv_ragged_row':
    case 'csv_bad_label':
    case 'csv_not_text':
    case 'too_many_classes':
    case 'empty':
    case 'one_class':
    case 'non_finite':
    case 'shape_mismatch':
      return `the job failed (${code}); the details are in the worker's log`;
    default:
      return assertNever(code);
  }
}

/**
 * An absolute path (POSIX, Windows, file: URL), a stack frame, or a module resolution error. A JSON
 * pointer into the job spec (`/student/model/layers/2/units`) looks like a path but is the client's own.
 */
const SPEC_POINTER = '(?:dataset|teachers?|student|distillation|seed|name|metadata|webhook|priority|max_runtime_seconds)\\b';
const SERVER_TEXT = [
  new RegExp(`(^|[\\s'"(=:])\\/(?!${SPEC_POINTER})(?:[\\w.@+-]+\\/)+[\\w.@+-]*`),
  /\bfile:\/\//,
  /\b[A-Za-z]:\\/,
  /\n\s+at\s/,
  /^\s*at\s.+:\d+:\d+\)?$/m,
  /Cannot find (?:package|module)/,
  /node_modules/,
];

export function looksInternal(text: string): boolean {
  return SERVER_TEXT.some((re) => re.test(text));
}

/**
 * An engine error's own message when it is fit for a client (the engine writes them for people, but
 * some quote what they read); otherwise the code's generic message. `internal_error` is always generic.
 */
export function publicJobError(code: JobErrorCode, message: string): JobError {
  if (code !== 'internal_error' && !looksInternal(message)) return { code, message: message.split('\n')[0]!.slice(0, 1000) };
  return { code, message: genericMessage(code) };
}
