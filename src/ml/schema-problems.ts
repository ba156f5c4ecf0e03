/**
 * JSON-Schema problems of a value, worded for the person who wrote it. A value that matches no branch
 * of a union is judged against the branch it was evidently trying: the one its discriminating property
 * names (a layer's `type`), else the one whose properties it uses (`layers` rather than `preset`,
 * `model_id` rather than `model`), else the one of its JSON type (a number rather than `{from, to}`).
 * The other branches' complaints are not reported. Every message names its limit or its allowed values.
 */
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { SpecProblem } from './errors.js';

type Schema = Record<string, unknown> & { anyOf?: Schema[]; properties?: Record<string, Schema>; items?: Schema; required?: string[] };

export function schemaProblems(schema: TSchema, value: unknown): SpecProblem[] {
  return explain(schema as unknown as Schema, value, '');
}

function explain(schema: Schema, value: unknown, path: string): SpecProblem[] {
  if (Value.Check(schema as TSchema, value)) return [];
  if (schema.anyOf) return explainUnion(schema.anyOf, value, path);
  if (schema.type === 'object' && isObject(value) && schema.properties) {
    const shallow = { ...schema, properties: Object.fromEntries(Object.keys(schema.properties).map((k) => [k, {}])) };
    const problems = leafProblems(shallow, value, path);
    for (const [key, inner] of Object.entries(value)) {
      const sub = Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
      if (sub && inner !== undefined) problems.push(...explain(sub, inner, `${path}/${escapePointer(key)}`));
    }
    return problems;
  }
  if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    const problems = leafProblems({ ...schema, items: {} }, value, path);
    // An array over its length limit is reported as such; its items are not checked one by one.
    if (problems.length > 0) return problems;
    (value as unknown[]).forEach((item, i) => problems.push(...explain(schema.items!, item, `${path}/${i}`)));
    return problems;
  }
  return leafProblems(schema, value, path);
}

function explainUnion(branches: Schema[], value: unknown, path: string): SpecProblem[] {
  const flat = branches.flatMap((b) => (b.anyOf ? b.anyOf : [b]));
  const constants = flat.filter((b) => 'const' in b).map((b) => b.const);
  const typed = flat.filter((b) => !('const' in b) && fitsType(b, value));
  if (typed.length === 0) {
    if (constants.length === flat.length) return [{ path, message: oneOf(constants), keyword: 'const' }];
    const kinds = flat.filter((b) => !('const' in b)).map(describeType);
    const consts = constants.length ? [oneOf(constants).replace(/^must be /, '')] : [];
    return [{ path, message: `must be ${[...consts, ...new Set(kinds)].join(' or ')}`, keyword: 'type' }];
  }
  if (typed.length === 1) return explain(typed[0]!, value, path);
  if (isObject(value)) {
    // A property that every branch fixes to a constant (a layer's `type`) says which branch is meant.
    const discriminator = Object.keys(typed[0]!.properties ?? {}).find((k) => typed.every((b) => b.properties?.[k] && 'const' in b.properties[k]!));
    if (discriminator) {
      const allowed = typed.map((b) => b.properties![discriminator]!.const);
      if (!(discriminator in value))
        return [
          {
            path,
            message: `must have required property ${discriminator} (${oneOf(allowed).replace(/^must be /, '')})`,
            keyword: 'required',
            missingProperty: discriminator,
          },
        ];
      const chosen = typed.find((b) => b.properties![discriminator]!.const === value[discriminator]);
      if (!chosen) return [{ path: `${path}/${escapePointer(discriminator)}`, message: oneOf(allowed), keyword: 'const' }];
      return explain(chosen, value, path);
    }
    // Properties of two branches at once (preset and layers, model and model_id): say so, not each branch's complaint.
    const own = typed.map((b) =>
      Object.keys(value).filter(
        (k) => b.properties && Object.hasOwn(b.properties, k) && typed.every((o) => o === b || !o.properties || !Object.hasOwn(o.properties, k)),
      ),
    );
    const mixed = own.filter((keys) => keys.length > 0);
    if (mixed.length > 1) return [{ path, message: `must have either ${mixed.map((keys) => keys[0]).join(' or ')}, not both`, keyword: 'anyOf' }];
    // Else the branch whose properties the value uses most.
    const scored = typed.map((b) => ({ b, used: Object.keys(value).filter((k) => b.properties && Object.hasOwn(b.properties, k)).length }));
    const best = Math.max(...scored.map((s) => s.used));
    if (best === 0) {
      const names = typed.map((b) => b.required?.[0]).filter((n): n is string => n !== undefined);
      return [{ path, message: `must have one of the properties ${names.join(', ')}`, keyword: 'anyOf' }];
    }
    const candidates = scored.filter((s) => s.used === best).map((s) => s.b);
    return fewest(candidates.map((b) => explain(b, value, path)));
  }
  return fewest(typed.map((b) => explain(b, value, path)));
}

const fewest = (options: SpecProblem[][]) => options.reduce((a, b) => (b.length < a.length ? b : a));

/** Errors of this schema node itself (its children are accepted as anything by the caller's copy). */
function leafProblems(schema: Schema, value: unknown, path: string): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const e of Value.Errors(schema as TSchema, value)) {
    if (e.keyword === 'boolean' || e.keyword === 'anyOf') continue;
    const at = path + e.instancePath;
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required') {
      for (const name of (params.requiredProperties as string[] | undefined) ?? [])
        problems.push({ path: at, message: `must have required property ${name}`, keyword: 'required', missingProperty: name });
    } else if (e.keyword === 'additionalProperties') {
      const known = Object.keys(schema.properties ?? {});
      for (const name of (params.additionalProperties as string[] | undefined) ?? []) {
        problems.push({ path: at, message: `must not have additional properties: ${name} (allowed: ${known.join(', ')})`, keyword: 'additionalProperties' });
      }
    } else {
      problems.push({ path: at, message: wordOf(e.keyword, params, e.message), keyword: e.keyword });
    }
  }
  return problems;
}

/** Every keyword's message with its limit. */
function wordOf(keyword: string, params: Record<string, unknown>, fallback: string): string {
  const limit = params.limit;
  switch (keyword) {
    case 'maxLength':
      return `must be at most ${limit} characters`;
    case 'minLength':
      return `must be at least ${limit} characters`;
    case 'maxItems':
      return `must have at most ${limit} items`;
    case 'minItems':
      return `must have at least ${limit} items`;
    case 'const':
      return oneOf([params.allowedValue]);
    case 'enum':
      return oneOf((params.allowedValues as unknown[] | undefined) ?? []);
    case 'type':
      return typeof params.type === 'string' ? `must be ${describeType({ type: params.type })}` : fallback;
    default:
      return fallback;
  }
}

function oneOf(values: unknown[]): string {
  return values.length === 1 ? `must be ${JSON.stringify(values[0])}` : `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

function fitsType(schema: Schema, value: unknown): boolean {
  switch (schema.type) {
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    default:
      return true;
  }
}

function describeType(schema: Schema): string {
  switch (schema.type) {
    case 'object':
      return schema.properties ? `an object with ${Object.keys(schema.properties).join(', ')}` : 'an object';
    case 'array':
      return schema.items && typeof schema.items.type === 'string' ? `an array of ${schema.items.type}s` : 'an array';
    case 'integer':
      return 'an integer';
    case 'null':
      return 'null';
    default:
      return typeof schema.type === 'string' ? `a ${schema.type}` : 'a value of another type';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const escapePointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
