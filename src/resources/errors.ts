/**
 * Why an upload or a change to a dataset or model is refused. `code` is stable (clients branch on it);
 * `reason` names the precise fault (e.g. the engine's `idx_truncated`). The API's error handler turns it
 * into problem+json with the same status and code (and Retry-After when `retryAfter` is set).
 */
export class ResourceError extends Error {
  override name = 'ResourceError';
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413 | 415 | 429 | 503,
    readonly code: string,
    message: string,
    readonly reason?: string,
    /** Seconds after which the same request may succeed (a busy server), sent as Retry-After. */
    readonly retryAfter?: number,
    /** More fields of the problem, e.g. the jobs that use a dataset. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A dataset or model that queued or running jobs use cannot be deleted. */
export function inUse(what: 'dataset' | 'model', id: string, jobs: string[]): ResourceError {
  return new ResourceError(
    409,
    `${what}_in_use`,
    `${what} ${id} is used by ${jobs.length > 1 ? 'jobs' : 'job'} ${jobs.join(', ')}, queued or running: cancel ${jobs.length > 1 ? 'them' : 'it'} or wait until ${jobs.length > 1 ? 'they finish' : 'it finishes'}`,
    undefined,
    undefined,
    { jobs },
  );
}
