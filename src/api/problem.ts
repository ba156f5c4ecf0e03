/**
 * Errors the API answers with, as RFC 9457 problem details. `code` is stable: clients branch on it.
 * Routes throw these; the one error handler in app.ts turns them (and Fastify's own) into responses.
 */
import type { ResourceError } from '../resources/errors.js';

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiProblem';
  }
}

export interface FieldError {
  /** JSON pointer to the offending field, e.g. `/student/training/epochs`. */
  field: string;
  message: string;
}

/** A dataset's or model's refusal (src/resources) as the problem it answers: same status, code and message. */
export function resourceProblem(err: ResourceError): ApiProblem {
  return new ApiProblem(err.status, err.code, err.message, {
    ...(err.reason ? { reason: err.reason } : {}),
    ...(err.retryAfter ? { retry_after: err.retryAfter } : {}),
    ...err.details,
  });
}

export const notFound = (what: string, id: string) => new ApiProblem(404, 'not_found', `${what} ${id} does not exist`);

export function invalidRequest(errors: FieldError[]): ApiProblem {
  const first = errors[0];
  const message = first ? `${first.field || 'body'}: ${first.message}` : 'invalid request';
  return new ApiProblem(400, 'invalid_request', message, { errors });
}

export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
