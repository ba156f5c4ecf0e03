import type { JobErrorCode } from './job-errors.js';

// The statuses are the wire contract's (src/contract/statuses.ts), defined once.
export { ACTIVE_STATUSES, isTerminal, JOB_STATUSES, TERMINAL_STATUSES, type TerminalStatus } from '../contract/statuses.js';
export type { JobStatusName as JobStatus } from '../contract/statuses.js';

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** A failed job's `error`: the code is stable and documented in openapi.yaml. */
export interface JobError {
  code: JobErrorCode;
  message: string;
}
