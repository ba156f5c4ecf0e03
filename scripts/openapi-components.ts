/**
 * openapi.yaml's wire objects (`components/schemas`: the job, its events, report, artifacts, datasets,
 * models, lists), generated from src/contract (the one definition; routes declare the same schemas).
 * The paths, the request schemas of the engine's spec, problems and responses stay hand-written.
 *
 *   npx tsx scripts/openapi-components.ts           print the generated schemas
 *   npx tsx scripts/openapi-components.ts --write   replace them in openapi.yaml (npm run docs:openapi)
 *
 * test/foundation/openapi-components.test.ts fails while openapi.yaml differs from what this prints.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Document, isScalar, visit } from 'yaml';
import * as contract from '../src/contract/index.js';
import { COMPONENT_REF, componentName } from '../src/contract/component.js';

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.yaml', import.meta.url));
export const REGION_START =
  '    # ---------------------------------------------------------------- generated from src/contract by scripts/openapi-components.ts (npm run docs:openapi); do not edit by hand';
export const REGION_END = '    # ---------------------------------------------------------------- end of the generated schemas';

/** Named in the contract but written by hand in openapi.yaml (the request side of the engine's spec). */
const HAND_WRITTEN = new Set(['EngineSpec']);

type Schema = Record<string, unknown>;

/** Every schema the contract names (exported, or inside one that is), by its component name. */
export function contractComponents(): Map<string, Schema> {
  const named = (Object.values(contract) as unknown[]).filter((v): v is Schema => componentName(v) !== undefined);
  // The exported schemas first: a use elsewhere may be a copy with its own description (`described`).
  const found = new Map<string, Schema>(named.map((s) => [componentName(s)!, s]));
  const seen = new Set<unknown>();
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    const name = componentName(node);
    if (name && !found.has(name)) found.set(name, node as Schema);
    for (const value of Object.values(node)) walk(value);
  };
  named.forEach(walk);
  for (const name of HAND_WRITTEN) found.delete(name);
  return new Map([...found].sort(([a], [b]) => a.localeCompare(b)));
}

/** A contract schema as OpenAPI 3.1 writes it: named parts as `$ref`s, `T | null` as `type: [T, 'null']`. */
export function toOpenApi(schema: Schema, components: Map<string, Schema>, root = true): Schema {
  const name = componentName(schema);
  if (!root && name) {
    const own = components.get(name)?.description;
    return { $ref: `${COMPONENT_REF}${name}`, ...(schema.description !== undefined && schema.description !== own ? { description: schema.description } : {}) };
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$comment') continue;
    if ((key === 'properties' || key === 'patternProperties') && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toOpenApi(v as Schema, components, false)]));
    } else if ((key === 'anyOf' || key === 'oneOf' || key === 'allOf') && Array.isArray(value)) {
      out[key] = value.map((v) => toOpenApi(v as Schema, components, false));
    } else if ((key === 'items' || key === 'additionalProperties' || key === 'propertyNames') && isObject(value)) {
      out[key] = toOpenApi(value, components, false);
    } else {
      out[key] = value;
    }
  }
  return tidy(out);
}

/** Nullable plain types (not objects) as a type list, string enums with their type, and `type` and `description` first. */
function tidy(s: Schema): Schema {
  const branches = s.anyOf as Schema[] | undefined;
  if (
    branches?.length === 2 &&
    branches[1]?.type === 'null' &&
    Object.keys(branches[1]).length === 1 &&
    typeof branches[0]?.type === 'string' &&
    branches[0].type !== 'object'
  ) {
    const { anyOf: _, ...outer } = s;
    return tidy({ ...branches[0], type: [branches[0].type, 'null'], ...outer });
  }
  if (Array.isArray(s.enum) && s.type === undefined && s.enum.every((v) => typeof v === 'string')) s = { type: 'string', ...s };
  const { type, description, required, properties, ...rest } = s;
  return Object.fromEntries(Object.entries({ type, description, required, properties, ...rest }).filter(([, v]) => v !== undefined));
}

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The generated region of openapi.yaml (between the markers, markers excluded). */
export function generatedSchemas(): string {
  const components = contractComponents();
  const schemas = Object.fromEntries([...components].map(([name, schema]) => [name, toOpenApi(JSON.parse(JSON.stringify(schema)) as Schema, components)]));
  const doc = new Document(schemas, { aliasDuplicateObjects: false });
  // Lists of plain values on one line, as the hand-written part writes them.
  visit(doc, { Seq: (_key, node) => void (node.flow = node.items.every((item) => isScalar(item))) });
  return doc
    .toString({ lineWidth: 0, indent: 2, flowCollectionPadding: false })
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** openapi.yaml's current region, or undefined when the markers are missing. */
export function currentSchemas(text: string): string | undefined {
  const start = text.indexOf(REGION_START);
  const end = text.indexOf(REGION_END);
  if (start < 0 || end < start) return undefined;
  return text.slice(start + REGION_START.length + 1, end).trimEnd();
}

function write(): void {
  const text = readFileSync(OPENAPI_FILE, 'utf8');
  if (currentSchemas(text) === undefined) throw new Error(`openapi.yaml has no generated-schemas markers (${REGION_START.trim()} … ${REGION_END.trim()})`);
  const start = text.indexOf(REGION_START) + REGION_START.length;
  const end = text.indexOf(REGION_END);
  writeFileSync(OPENAPI_FILE, `${text.slice(0, start)}\n${generatedSchemas()}\n${text.slice(end)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--write')) write();
  else console.log(generatedSchemas());
}
