/**
 * Every code a failed job's `error.code` can hold: the worker's own (the attempt did not end by the
 * engine's hand) and the engine's (the job itself cannot succeed), as the wire contract lists them.
 */
import { JOB_ERROR_CODES } from '../contract/job.js';
import type { EngineErrorCode } from '../ml/tfjs-free.js';

/** Set by the worker, the reconciler or the queue: the attempt ended without the engine failing it. */
export const WORKER_ERROR_CODES = ['timeout', 'worker_crashed', 'worker_unavailable', 'database_unavailable', 'worker_lost', 'internal_error'] as const;
export type WorkerErrorCode = (typeof WORKER_ERROR_CODES)[number];

/**
 * The engine's codes that fail a job. `cancelled` is not one (a cancelled job ends as `cancelled`),
 * nor `invalid_model` (an upload's refusal: see engineFailureCode).
 */
export type EngineJobErrorCode = Exclude<EngineErrorCode, 'cancelled' | 'invalid_model'>;

/** The wire contract's list (src/contract/job.ts) is the one list; these types keep it and the code whole. */
export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];
export { JOB_ERROR_CODES };

// Fails to compile when the worker or the engine gains a code the contract lacks, or the contract one nobody sets.
type Unlisted = Exclude<WorkerErrorCode | EngineJobErrorCode, JobErrorCode>;
type Unset = Exclude<JobErrorCode, WorkerErrorCode | EngineJobErrorCode>;
const listedAndSet: [Unlisted | Unset] extends [never] ? true : Unlisted | Unset = true;
void listedAndSet;

/**
 * The code a job fails with when the engine failed it. An engine `cancelled` the worker did not ask
 * for (it asks only to cancel, time out or stop, each handled as such) is the engine's own fault; an
 * ONNX teacher its checks refuse at run time is, for the job, a model it cannot read.
 */
export function engineFailureCode(code: EngineErrorCode | 'internal_error'): JobErrorCode {
  if (code === 'cancelled') return 'internal_error';
  if (code === 'invalid_model') return 'model_unreadable';
  return code;
}
