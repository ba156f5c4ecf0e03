/**
 * Why an upload or a change to a dataset or model is refused. `code` is stable (clients branch on it);
 * `reason` names the precise fault (e.g. the engine's `idx_truncated`). The API turns it into
 * problem+json with the same status and code.
 */
export class ResourceError extends Error {
  override name = 'ResourceError';
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413 | 415,
    readonly code: string,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}
