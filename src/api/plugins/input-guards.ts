import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { isId } from '../../ids.js';
import { invalidRequest, notFound, TITLES } from '../problem.js';

/** What a route's `:id` may look like, by the route's collection. */
const ID_KINDS: Record<string, { what: string; valid(id: string): boolean }> = {
  jobs: { what: 'job', valid: (id) => isId('job', id) },
  // Uploaded datasets, and the built-in ones (`builtin:mnist`).
  datasets: { what: 'dataset', valid: (id) => isId('ds', id) || /^builtin:[a-z0-9-]+$/.test(id) },
  models: { what: 'model', valid: (id) => isId('mdl', id) },
};

/**
 * Input Postgres would refuse, stopped before any query, so that it is the caller's error and not a 500:
 * an `:id` that is not shaped like an id of its kind answers 404 (as an unknown id does), and a NUL
 * character anywhere in the query string or JSON body (text and jsonb cannot hold it), or an infinite
 * number in the query string, answers 400 naming the field.
 */
export function registerInputGuards(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    const id = (req.params as { id?: unknown } | undefined)?.id;
    const kind = ID_KINDS[req.routeOptions.url?.split('/')[2] ?? ''];
    // (Over 64 characters, the route's schema answers 400 as openapi.yaml says.)
    if (typeof id === 'string' && id.length <= 64 && kind && !kind.valid(id)) {
      // Quoted and escaped only when it holds what a terminal should not print raw.
      throw notFound(kind.what, /^[\x20-\x7e]*$/.test(id) ? id : JSON.stringify(id));
    }
    const nul = findNul(req.query, 'querystring:') ?? findNul(req.body, '');
    if (nul !== undefined) throw invalidRequest([{ field: nul || '/', message: 'must not contain the NUL character (\\u0000)' }]);
    // Ajv coerces "Infinity" and "1e400" to numbers that pass its integer, minimum and maximum checks.
    for (const [name, value] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) && !Number.isFinite(Number(value))) {
        throw invalidRequest([{ field: `querystring:/${name}`, message: 'must be a finite number' }]);
      }
    }
  });
}

/** The JSON pointer (after `base`) of the first string or key holding U+0000, if any. */
function findNul(value: unknown, base: string, depth = 0): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? base : undefined;
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const here = `${base}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (key.includes('\u0000')) return here;
    const found = findNul(inner, here, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers too large, a malformed
 * request line, a request too slow to arrive) still answer problem+json, like every other refusal.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request did not arrive in time']
        : [400, 'bad_request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ type: 'about:blank', title: TITLES[status] ?? STATUS_CODES[status], status, code, detail });
  this.log.debug({ code: err.code }, 'client error');
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/problem+json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
