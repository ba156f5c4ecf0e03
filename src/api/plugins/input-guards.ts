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
 * character or an unpaired surrogate anywhere in the query string or JSON body (text and jsonb cannot
 * hold them), an infinite number in the query string, or a query parameter given more than once, answers 400
 * naming the field. (JSON bodies reach this hook already bounded in depth: see json-body.ts.)
 */
export function registerInputGuards(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    // `?limit=1&limit=2` parses as an array; no parameter of ours takes several values.
    for (const [name, value] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (Array.isArray(value)) {
        throw invalidRequest([{ field: `querystring:/${name}`, message: `was given ${value.length} times; give it once` }]);
      }
    }
    const id = (req.params as { id?: unknown } | undefined)?.id;
    const kind = ID_KINDS[req.routeOptions.url?.split('/')[2] ?? ''];
    // (Over 64 characters, the route's schema answers 400 as openapi.yaml says.)
    if (typeof id === 'string' && id.length <= 64 && kind && !kind.valid(id)) {
      // Quoted and escaped only when it holds what a terminal should not print raw.
      throw notFound(kind.what, /^[\x20-\x7e]*$/.test(id) ? id : JSON.stringify(id));
    }
    const refused = findUnstorable(req.query, 'querystring:') ?? findUnstorable(req.body, '');
    if (refused) throw invalidRequest([{ field: refused.field || '/', message: refused.message }]);
    // Ajv coerces "Infinity" and "1e400" to numbers that pass its integer, minimum and maximum checks.
    for (const [name, value] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) && !Number.isFinite(Number(value))) {
        throw invalidRequest([{ field: `querystring:/${name}`, message: 'must be a finite number' }]);
      }
    }
  });
}

// Unpaired UTF-16 surrogates: JSON may escape them (\ud800), but jsonb refuses them and text turns them into U+FFFD.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What Postgres would refuse in a string, if anything. */
function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must not contain an unpaired UTF-16 surrogate (\\ud800-\\udfff)';
  return undefined;
}

/** The JSON pointer (after `base`) of the first string or key Postgres would refuse, and why. */
function findUnstorable(value: unknown, base: string, depth = 0): { field: string; message: string } | undefined {
  if (typeof value === 'string') {
    const message = unstorable(value);
    return message ? { field: base, message } : undefined;
  }
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const here = `${base}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    const message = unstorable(key);
    if (message) return { field: here, message };
    const found = findUnstorable(inner, here, depth + 1);
    if (found) return found;
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
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/problem+json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
