/**
 * openapi.yaml as a test oracle: finds the documented operation for a real request, validates the real
 * response (status, headers, content type, body) and the request itself against it with ajv (JSON Schema
 * 2020-12, as OpenAPI 3.1 uses), and records which documented statuses the tests have seen.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { OPENAPI_PATH } from '../../src/api/plugins/docs.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Schema = Record<string, any>;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
export interface Header {
  required?: boolean;
  schema?: Schema;
}
export interface MediaType {
  schema?: Schema;
}
export interface ResponseObject {
  description: string;
  headers?: Record<string, Header | { $ref: string }>;
  content?: Record<string, MediaType>;
}
export interface SecurityScheme {
  type: 'http' | 'apiKey' | string;
  scheme?: string;
  in?: 'query' | 'header' | 'cookie';
  name?: string;
}
export type SecurityRequirement = Record<string, string[]>;

export interface Operation {
  operationId: string;
  security?: SecurityRequirement[];
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject | { $ref: string }>;
  'x-websocket'?: { closeCodes?: Record<string, string>; serverMessages?: Schema; clientMessages?: Schema | string };
}
export type PathItem = { parameters?: Array<Parameter | { $ref: string }> } & Partial<Record<HttpMethod, Operation>>;
export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head' | 'patch' | 'trace';
export const HTTP_METHODS: HttpMethod[] = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, PathItem>;
  security?: SecurityRequirement[];
  components: {
    securitySchemes?: Record<string, SecurityScheme>;
    schemas: Record<string, Schema>;
    parameters?: Record<string, Parameter>;
    headers?: Record<string, Header>;
    responses?: Record<string, ResponseObject>;
  };
}

/** A real HTTP answer as the tests hold it: `body` parsed when it is JSON, text or bytes otherwise. */
export interface RealResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

const BASE = 'https://contract.test/openapi.yaml';

export class Contract {
  readonly doc: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private inlineIds = 0;
  /** `METHOD template status` of every response checked so far. */
  readonly seen = new Set<string>();

  constructor(path = OPENAPI_PATH) {
    this.doc = parse(readFileSync(path, 'utf8')) as OpenApiDocument;
    this.ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, strictTuples: false });
    addFormats.default(this.ajv);
    // OpenAPI's own schema keyword: an annotation for code generators, no assertion.
    this.ajv.addKeyword({ keyword: 'discriminator' });
    // Every component schema under one id, as `$defs`: each `#/components/schemas/X` reference becomes
    // `<id>#/$defs/X`, which resolves from any compiled schema.
    this.ajv.addSchema({ $id: BASE, $defs: rebase(this.doc.components.schemas) } as Schema);
  }

  /** Follows an OpenAPI `$ref` (`#/components/...`); any other node is returned as it is. */
  resolve<T>(node: T | { $ref: string }): T {
    let current: unknown = node;
    for (let hops = 0; current && typeof current === 'object' && '$ref' in current; hops++) {
      assert.ok(hops < 10, 'reference loop');
      const ref = (current as { $ref: string }).$ref;
      assert.match(ref, /^#\//, `only local references are supported: ${ref}`);
      current = ref
        .slice(2)
        .split('/')
        .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<any>((at, key) => at?.[key], this.doc);
      assert.ok(current !== undefined, `unresolved reference ${ref}`);
    }
    return current as T;
  }

  /** Every documented `METHOD template`. */
  operations(): Array<{ method: HttpMethod; path: string; operation: Operation }> {
    return Object.entries(this.doc.paths).flatMap(([path, item]) =>
      HTTP_METHODS.filter((m) => item[m]).map((method) => ({ method, path, operation: item[method]! })),
    );
  }

  /** The documented path template a concrete URL path matches, with its path parameters. */
  match(url: string): { path: string; params: Record<string, string> } | undefined {
    const pathname = new URL(url, 'http://x').pathname;
    for (const path of Object.keys(this.doc.paths)) {
      const names: string[] = [];
      const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      const found = new RegExp(`^${pattern}$`).exec(pathname);
      if (found) return { path, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1]!)])) };
    }
    return undefined;
  }

  operation(method: string, path: string): Operation {
    const operation = this.doc.paths[path]?.[method.toLowerCase() as HttpMethod];
    assert.ok(operation, `${method.toUpperCase()} ${path} is not documented`);
    return operation;
  }

  /** The security schemes an operation accepts (its own `security`, else the document's), by name. */
  securitySchemes(method: string, path: string): Record<string, SecurityScheme> {
    const requirements = this.operation(method, path).security ?? this.doc.security ?? [];
    const names = new Set(requirements.flatMap((r) => Object.keys(r)));
    return Object.fromEntries(
      [...names].map((name) => {
        const scheme = this.doc.components.securitySchemes?.[name];
        assert.ok(scheme, `security scheme ${name} is not defined`);
        return [name, scheme];
      }),
    );
  }

  /** Path-level and operation-level parameters, resolved. */
  parameters(method: string, path: string): Parameter[] {
    const item = this.doc.paths[path]!;
    const all = [...(item.parameters ?? []), ...(this.operation(method, path).parameters ?? [])].map((p) => this.resolve<Parameter>(p));
    // An operation-level parameter overrides a path-level one of the same name and location.
    return [...new Map(all.map((p) => [`${p.in}:${p.name.toLowerCase()}`, p])).values()];
  }

  /** A validator for a schema: a name in components/schemas, or a schema object from the document. */
  validator(schema: string | Schema): ValidateFunction {
    const key = typeof schema === 'string' ? schema : JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      const root = typeof schema === 'string' ? { $ref: `#/components/schemas/${schema}` } : schema;
      // Compiled as a subschema of the document, so its local references resolve.
      validate = this.ajv.compile({ $id: `${BASE}/inline/${this.inlineIds++}`, $ref: '#/$defs/s', $defs: { s: rebase(root) } });
      this.compiled.set(key, validate);
    }
    return validate;
  }

  /** ajv's errors for `value` against a schema, as readable lines; empty when it is valid. */
  errors(schema: string | Schema, value: unknown): string[] {
    const validate = this.validator(schema);
    return validate(value) ? [] : describe(validate.errors ?? [], value);
  }

  assertValid(schema: string | Schema, value: unknown, what: string): void {
    const problems = this.errors(schema, value);
    assert.deepEqual(problems, [], `${what} does not match ${typeof schema === 'string' ? schema : 'its schema'}:\n${problems.join('\n')}\n${preview(value)}`);
  }

  /**
   * Asserts that a real response is one the contract documents for this request: its status is listed,
   * its required headers are there and match, its content type is listed and its body matches that
   * content's schema. Records the status as seen. Returns the operation's path template.
   */
  checkResponse(method: string, url: string, response: RealResponse): string {
    const where = `${method.toUpperCase()} ${url} → ${response.status}`;
    const matched = this.match(url);
    assert.ok(matched, `${where}: the path is not documented`);
    const operation = this.operation(method, matched.path);
    const documented = operation.responses[String(response.status)];
    assert.ok(documented, `${where}: status ${response.status} is not documented for ${method.toUpperCase()} ${matched.path}\n${preview(response.body)}`);
    const spec = this.resolve<ResponseObject>(documented);
    this.seen.add(`${method.toUpperCase()} ${matched.path} ${response.status}`);

    for (const [name, ref] of Object.entries(spec.headers ?? {})) {
      const header = this.resolve<Header>(ref);
      const value = response.headers.get(name);
      if (value === null) {
        assert.ok(!header.required, `${where}: required header ${name} is missing`);
        continue;
      }
      if (header.schema) this.assertValid(header.schema, headerValue(value, header.schema), `${where}: header ${name}`);
    }

    const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!spec.content) {
      assert.equal(contentType, '', `${where}: documented without a body, but answered ${contentType}`);
      assert.ok(response.body === '' || response.body === undefined || response.body === null, `${where}: documented without a body, but has one`);
      return matched.path;
    }
    const media = spec.content[contentType];
    assert.ok(media, `${where}: content type "${contentType}" is not documented (documented: ${Object.keys(spec.content).join(', ')})`);
    if (media.schema && /json/.test(contentType)) this.assertValid(media.schema, response.body, `${where}: body`);
    return matched.path;
  }

  /**
   * What the contract says is wrong with a request: unknown or invalid query parameters, invalid path
   * parameters and documented headers, and a body that does not match the request body's schema.
   */
  requestProblems(method: string, url: string, request: { body?: unknown; headers?: Record<string, string> } = {}): string[] {
    const matched = this.match(url);
    assert.ok(matched, `${method} ${url}: the path is not documented`);
    const parameters = this.parameters(method, matched.path);
    const problems: string[] = [];
    const query = new URL(url, 'http://x').searchParams;
    // A credential in the query (the wsTicket scheme's `ticket`) is the security scheme's, not a parameter.
    const credentials = Object.values(this.securitySchemes(method, matched.path))
      .filter((s) => s.type === 'apiKey' && s.in === 'query')
      .map((s) => s.name);
    for (const name of new Set(query.keys())) {
      if (credentials.includes(name)) continue;
      const p = parameters.find((q) => q.in === 'query' && q.name === name);
      if (!p) problems.push(`query ${name}: not a documented parameter`);
      else if (p.schema) problems.push(...this.errors(p.schema, headerValue(query.get(name)!, this.resolveSchema(p.schema))).map((e) => `query ${name}: ${e}`));
    }
    for (const p of parameters) {
      if (p.in === 'path' && p.schema) problems.push(...this.errors(p.schema, matched.params[p.name]).map((e) => `path ${p.name}: ${e}`));
      if (p.in === 'header' && p.schema) {
        const value = Object.entries(request.headers ?? {}).find(([k]) => k.toLowerCase() === p.name.toLowerCase())?.[1];
        if (value !== undefined) problems.push(...this.errors(p.schema, value).map((e) => `header ${p.name}: ${e}`));
        else if (p.required) problems.push(`header ${p.name}: missing`);
      }
    }
    const body = this.operation(method, matched.path).requestBody;
    if (body && request.body !== undefined) {
      const schema = body.content['application/json']?.schema;
      if (schema) problems.push(...this.errors(schema, request.body).map((e) => `body ${e}`));
    } else if (body?.required) {
      problems.push('body: missing');
    }
    return problems;
  }

  private resolveSchema(schema: Schema): Schema {
    return schema.$ref ? this.resolve<Schema>(schema as { $ref: string }) : schema;
  }

  /**
   * A component schema with every `$ref` replaced by its target (siblings of a `$ref` override the
   * target's keywords): plain JSON Schema to compare with the server's own schemas.
   */
  inline(schema: string | Schema, depth = 0): Schema {
    assert.ok(depth < 40, 'schema nesting too deep (a recursive schema?)');
    const node = typeof schema === 'string' ? { $ref: `#/components/schemas/${schema}` } : schema;
    if (Array.isArray(node)) return node.map((n) => (n && typeof n === 'object' ? this.inline(n, depth + 1) : n)) as unknown as Schema;
    let out: Schema = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref') out = { ...this.inline(this.resolve<Schema>({ $ref: value as string }), depth + 1), ...out };
      else out[key] = value && typeof value === 'object' ? this.inline(value as Schema, depth + 1) : value;
    }
    return out;
  }
}

/** The document's `#/components/schemas/…` references, made absolute (`<BASE>#/$defs/…`). */
function rebase(schema: unknown): any {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/') ? `${BASE}#/$defs/${v.slice('#/components/schemas/'.length)}` : rebase(v),
    ]),
  );
}

/** A header or query value as the JSON value its schema speaks of. */
function headerValue(value: string, schema: Schema): unknown {
  const types = ([] as unknown[]).concat(schema.type ?? []);
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (types.includes('boolean') && /^(true|false)$/.test(value)) return value === 'true';
  return value;
}

function describe(errors: ErrorObject[], value: unknown): string[] {
  const MAX = 25;
  const lines = errors.slice(0, MAX).map((e) => {
    const at = e.instancePath || '/';
    const params = Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '';
    const found = e.instancePath ? ` (found ${preview(pointer(value, e.instancePath), 120)})` : '';
    return `${at} ${e.message}${params} [${e.schemaPath}]${found}`;
  });
  return errors.length > MAX ? [...lines, `… and ${errors.length - MAX} more`] : lines;
}

function pointer(value: unknown, path: string): unknown {
  return path
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<any>((at, key) => at?.[key], value);
}

function preview(value: unknown, max = 1500): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? 'undefined' : text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * Two schemas as a validator sees them, to compare the document with the server's own schemas: without
 * annotations (descriptions, titles, discriminators, read/write-only), with `oneOf` read as `anyOf` and a
 * union of string constants read as an `enum` of strings.
 */
export function normalizeSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(normalizeSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const ANNOTATIONS = new Set(['description', 'title', 'examples', 'example', 'discriminator', '$comment', 'readOnly', 'writeOnly', 'deprecated', '~kind']);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(key) || key.startsWith('x-')) continue;
    out[key === 'oneOf' ? 'anyOf' : key] = normalizeSchema(value);
  }
  const branches = out.anyOf as Array<Record<string, unknown>> | undefined;
  if (branches?.every((b) => b.type === 'string' && 'const' in b && Object.keys(b).length === 2)) {
    delete out.anyOf;
    out.type = 'string';
    out.enum = branches.map((b) => b.const);
  }
  if (Array.isArray(out.enum) && out.type === undefined && out.enum.every((v) => typeof v === 'string')) out.type = 'string';
  if (Array.isArray(out.enum)) out.enum = [...out.enum].sort();
  return out;
}
