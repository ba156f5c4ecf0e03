import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiProblem } from '../problem.js';

export interface JsonShapeLimits {
  /** Nesting of arrays and objects: `[[1]]` is 2 deep. */
  maxDepth: number;
  /** Items of one array, or keys of one object. */
  maxItems: number;
  /** Characters (UTF-16 code units, after unescaping) of one string or key. */
  maxString: number;
}

/** Keys that change an object's prototype when a body is merged into another object (and constructor.prototype). */
const PROTOTYPE_KEYS = new Set(['__proto__']);

/**
 * JSON request bodies, bounded by shape before anything walks them: one flat pass over the text checks
 * nesting depth, items per array or object, the length of every string, and keys that would reach an
 * object's prototype; only then is the text parsed. Everything after (hooks, schema validation,
 * idempotency hashing) therefore sees a body of bounded depth. Refusals name the limit and the JSON
 * pointer where it was exceeded.
 */
export function registerJsonBodyParser(app: FastifyInstance, limits: JsonShapeLimits): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req: FastifyRequest, body: string | Buffer, done) => {
    try {
      done(null, parseBoundedJson(String(body), limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

const invalidJson = () => new ApiProblem(400, 'invalid_json', 'the request body is not valid JSON');

/** Parses `text` as JSON after checking its shape; throws an ApiProblem (400) when it is not acceptable. */
export function parseBoundedJson(text: string, limits: JsonShapeLimits): unknown {
  // A byte-order mark is not JSON, but clients send one; the default parser allowed it too.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') throw new ApiProblem(400, 'invalid_json', 'the request body is empty; send a JSON value or no content type');
  checkJsonShape(body, limits);
  try {
    return JSON.parse(body);
  } catch {
    throw invalidJson();
  }
}

interface Container {
  array: boolean;
  /** Items (array) or keys (object) begun so far. */
  count: number;
  /** The current key of an object, once read. */
  key: string | undefined;
  /** Whether the next string in this object is a key. */
  expectKey: boolean;
}

/**
 * One pass over JSON text without recursion. Text that is not JSON is left for JSON.parse to refuse,
 * unless it breaks a limit first (the pointer then names where, as far as the text made sense).
 */
export function checkJsonShape(text: string, limits: JsonShapeLimits): void {
  const stack: Container[] = [];
  /** Where the scan is; `inParent`: of the object whose key is being read (a key too long to quote). */
  const pointer = (inParent = false) => {
    const parts = stack.map((c) => (c.array ? String(Math.max(0, c.count - 1)) : (c.key ?? '')));
    if (inParent) parts.pop();
    return parts.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('') || '/';
  };
  const refuse = (field: string, message: string, code = 'json_too_complex') => {
    throw new ApiProblem(400, code, `${field}: ${message}`, { errors: [{ field, message }] });
  };
  // The innermost container (kept beside the stack: this loop runs once per character).
  let top: Container | undefined;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x22 /* " */) {
      // To the closing quote, by indexOf (escapes skipped, and counted to know the unescaped length).
      const start = i;
      let from = i + 1;
      let escaped = 0;
      let quote = text.indexOf('"', from);
      let backslash = text.indexOf('\\', from);
      while (quote >= 0 && backslash >= 0 && backslash < quote) {
        const skip = text.charCodeAt(backslash + 1) === 0x75 /* u */ ? 5 : 1;
        escaped += skip;
        from = backslash + 1 + skip;
        if (from > quote) quote = text.indexOf('"', from);
        backslash = text.indexOf('\\', from);
      }
      if (quote < 0) throw invalidJson(); // an unterminated string
      i = quote;
      const length = quote - start - 1 - escaped;
      if (top !== undefined && !top.array && top.expectKey) {
        top.expectKey = false;
        if (length > limits.maxString) refuse(pointer(true), `a key of ${length} characters: the limit is ${limits.maxString} characters`);
        let key: string;
        try {
          key = JSON.parse(text.slice(start, i + 1)) as string;
        } catch {
          throw invalidJson();
        }
        top.key = key;
        const parent = stack[stack.length - 2];
        if (PROTOTYPE_KEYS.has(key) || (key === 'prototype' && parent && !parent.array && parent.key === 'constructor')) {
          refuse(pointer(), `the key ${key} is not accepted here: it could change the prototype of objects`, 'invalid_request');
        }
      } else {
        if (top?.array && top.count === 0) top.count = 1; // the first item; later ones are counted at commas
        if (length > limits.maxString) refuse(pointer(), `a string of ${length} characters: the limit is ${limits.maxString} characters`);
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (top?.array && top.count === 0) top.count = 1;
      if (stack.length >= limits.maxDepth)
        refuse(pointer(), `arrays and objects nested more than ${limits.maxDepth} levels deep: the limit is ${limits.maxDepth} levels`);
      top = { array: c === 0x5b, count: 0, key: undefined, expectKey: c === 0x7b };
      stack.push(top);
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      stack.pop();
      top = stack[stack.length - 1];
    } else if (c === 0x2c /* , */) {
      if (!top) continue;
      top.count++;
      if (top.array && top.count > limits.maxItems)
        refuse(pointer(), `an array of more than ${limits.maxItems} items: the limit is ${limits.maxItems} items per array`);
      if (!top.array) top.expectKey = true;
    } else if (c === 0x3a /* : */) {
      if (top && !top.array) {
        if (top.count === 0) top.count = 1;
        if (top.count > limits.maxItems) refuse(pointer(), `an object of more than ${limits.maxItems} keys: the limit is ${limits.maxItems} keys per object`);
      }
    } else {
      // A number, true, false or null: an item of its array, read to its end at once.
      if (top?.array && top.count === 0) top.count = 1;
      while (i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d <= 0x20 || d === 0x2c || d === 0x5d || d === 0x7d || d === 0x3a || d === 0x22 || d === 0x5b || d === 0x7b) break;
        i++;
      }
    }
  }
}
