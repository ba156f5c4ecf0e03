import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRetriableDbError } from '../../db/client.js';
import { ApiProblem, type FieldError, TITLES } from '../problem.js';

/** The one place errors become responses: problem+json, 5xx details hidden and logged. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(err);
    if (problem.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code: problem.code, status: problem.status }, problem.message);
    if (problem.status === 429 && typeof problem.extra.retry_after === 'number') {
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

function toProblem(err: FastifyError): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (err.validation) {
    const where = err.validationContext ?? 'body';
    const errors: FieldError[] = err.validation.map((v) => ({
      field: fieldOf(where, v.instancePath, v.params as Record<string, unknown>),
      message: v.message ?? 'is invalid',
    }));
    const first = errors[0];
    return new ApiProblem(400, 'invalid_request', first ? `${first.field}: ${first.message}` : 'invalid request', { errors });
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiProblem(413, 'body_too_large', 'the request body is too large');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiProblem(415, 'unsupported_media_type', err.message);
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) {
    return new ApiProblem(400, 'invalid_json', 'the request body is not valid JSON');
  }
  if (isRetriableDbError(err)) return new ApiProblem(503, 'database_unavailable', 'the database is unavailable; retry shortly');
  if (/Connection is closed|Stream isn't writeable|ECONNREFUSED.*6379|enableOfflineQueue/i.test(err.message)) {
    return new ApiProblem(503, 'queue_unavailable', 'the queue is unavailable; retry shortly');
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status < 500) return new ApiProblem(status, status === 413 ? 'body_too_large' : status === 404 ? 'not_found' : 'bad_request', err.message);
  return new ApiProblem(500, 'internal_error', 'internal error');
}

/** `/student/training/epochs`, naming the missing property itself when ajv reports it on the parent. */
function fieldOf(where: string, instancePath: string, params: Record<string, unknown>): string {
  const base = where === 'body' ? '' : `${where}:`;
  const child = params.missingProperty ?? params.additionalProperty;
  return `${base}${instancePath}${typeof child === 'string' ? `/${child}` : ''}` || `${base}/`;
}
