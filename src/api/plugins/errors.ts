import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { isRetriableDbError } from '../../db/client.js';
import { isRedisUnavailable } from '../../redis.js';
import { ResourceError } from '../../resources/errors.js';
import { ApiProblem, type FieldError, resourceProblem, TITLES } from '../problem.js';

/** The one place errors become responses: problem+json, 5xx details hidden and logged. */
export function registerErrorHandling(app: FastifyInstance, redis: Pick<Redis, 'options'>): void {
  app.setErrorHandler((thrown: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const err = thrown instanceof ResourceError ? resourceProblem(thrown) : thrown;
    if (isClientAbort(err, req)) {
      // The client went away mid-request: nobody reads an answer, and it is not the server's failure.
      req.log.debug({ code: err.code, message: err.message }, 'client closed the connection');
      return sendProblem(reply, new ApiProblem(499, 'client_closed_request', 'the client closed the connection'), req.url);
    }
    const problem = toProblem(err, req, redis);
    if (problem.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code: problem.code, status: problem.status }, problem.message);
    if (typeof problem.extra.retry_after === 'number') {
      reply.header('retry-after', String(problem.extra.retry_after));
    }
    return sendProblem(reply, problem, req.url);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, new ApiProblem(404, 'route_not_found', `no route ${req.method} ${req.url.split('?')[0]}`), req.url),
  );
}

export function sendProblem(reply: FastifyReply, problem: ApiProblem, instance: string): FastifyReply {
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({
      type: `about:blank`,
      title: TITLES[problem.status] ?? 'Error',
      status: problem.status,
      code: problem.code,
      detail: problem.message,
      instance: instance.split('?')[0],
      ...problem.extra,
    });
}

/**
 * A request whose client closed the connection before it was read or answered: Node's 'aborted' and
 * ECONNRESET, busboy's "Unexpected end of form" on a cut upload, a stream closed early.
 */
function isClientAbort(err: FastifyError | ApiProblem, req: FastifyRequest): boolean {
  const gone = req.raw.aborted || req.raw.socket?.destroyed === true;
  if (!gone) return false;
  // Our own 4xx for what the abort left behind (a cut upload is `invalid_upload`) has nobody to read it either.
  if (err instanceof ApiProblem) return err.status < 500;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || /^(aborted|request aborted|unexpected end of form|premature close)$/i.test(err.message)
  );
}

function toProblem(err: FastifyError | ApiProblem, req: FastifyRequest, redis: Pick<Redis, 'options'>): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (err.validation) {
    const where = err.validationContext ?? 'body';
    const errors: FieldError[] = err.validation.map((v) => ({
      // Inside propertyNames, ajv names the key at fault on the error itself.
      field: fieldOf(where, v.instancePath, { propertyName: (v as { propertyName?: string }).propertyName, ...(v.params as Record<string, unknown>) }),
      message: messageOf(v.keyword, v.params as Record<string, unknown>, v.message),
    }));
    const first = errors[0];
    return new ApiProblem(400, 'invalid_request', first ? `${first.field}: ${first.message}` : 'invalid request', { errors });
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiProblem(413, 'body_too_large', 'the request body is too large');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiProblem(415, 'unsupported_media_type', err.message);
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new ApiProblem(400, 'invalid_json', 'the request body is not valid JSON');
  }
  // Redis first: a Redis socket's ECONNREFUSED would read as the database's to isRetriableDbError.
  if (isRedisUnavailable(err, redis)) {
    return new ApiProblem(503, 'queue_unavailable', 'the queue (Redis) cannot be reached; retry in 5 s', { retry_after: 5 });
  }
  if (isRetriableDbError(err))
    return new ApiProblem(503, 'database_unavailable', 'the database cannot be reached; nothing was done, retry in 5 s', { retry_after: 5 });
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status < 500) return dependencyProblem(status, err.message, `${req.method} ${req.url.split('?')[0] ?? ''}`);
  return new ApiProblem(500, 'internal_error', 'internal error');
}

/** Ajv's message, with the allowed values of an enum or const (its other keywords already name their limits). */
function messageOf(keyword: string, params: Record<string, unknown>, message: string | undefined): string {
  const list = (values: unknown[]) =>
    values.length === 1 ? `must be ${JSON.stringify(values[0])}` : `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  if (keyword === 'enum' && Array.isArray(params.allowedValues)) return list(params.allowedValues);
  if (keyword === 'const') return list([params.allowedValue]);
  if (keyword === 'additionalProperties') return 'is not a known field here';
  if (keyword === 'propertyNames') return 'is not an allowed key';
  if (keyword === 'type' && typeof params.type === 'string')
    return `must be ${{ integer: 'an', array: 'an', object: 'an' }[params.type] ?? 'a'} ${params.type}`;
  return message ?? 'is invalid';
}

/** `/student/training/epochs`, naming the missing property (or the key at fault) itself when ajv reports it on the parent. */
function fieldOf(where: string, instancePath: string, params: Record<string, unknown>): string {
  const base = where === 'body' ? '' : `${where}:`;
  const child = params.missingProperty ?? params.additionalProperty ?? params.propertyName;
  return `${base}${instancePath}${typeof child === 'string' ? `/${child}` : ''}` || `${base}/`;
}

/**
 * A 4xx a dependency raised (the static file server, the body reader): a code that fits its status and a
 * detail in our words, never the dependency's bare reason phrase ("Forbidden", "Range Not Satisfiable").
 */
function dependencyProblem(status: number, message: string, request: string): ApiProblem {
  // The static file servers refuse a path that leaves their folder (`/assets/%2e%2e/…`): no such file.
  if (status === 403 || status === 404) return new ApiProblem(404, 'route_not_found', `no file or route ${request}`);
  if (status === 412)
    return new ApiProblem(412, 'precondition_failed', 'the If-Match or If-Unmodified-Since header does not hold for this file: fetch it without them');
  if (status === 416)
    return new ApiProblem(
      416,
      'range_not_satisfiable',
      'the Range header asks for bytes this file does not have: ask for bytes within its Content-Length, or drop Range',
    );
  if (status === 413) return new ApiProblem(413, 'body_too_large', 'the request body is too large');
  return new ApiProblem(status, 'bad_request', message.length > 200 ? `${message.slice(0, 200)}…` : message);
}
