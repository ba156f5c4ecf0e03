/** openapi.yaml's wire objects are the ones generated from src/contract (scripts/openapi-components.ts). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parse } from 'yaml';
import { contractComponents, currentSchemas, generatedSchemas, OPENAPI_FILE } from '../../scripts/openapi-components.js';

it("openapi.yaml's generated schemas are the ones src/contract gives (npm run docs:openapi)", () => {
  const text = readFileSync(OPENAPI_FILE, 'utf8');
  const current = currentSchemas(text);
  assert.ok(current !== undefined, 'openapi.yaml lacks the generated-schemas markers');
  assert.equal(current, generatedSchemas(), 'openapi.yaml is stale: run `npm run docs:openapi`');
});

it('every schema src/contract names is defined once in openapi.yaml, and every reference resolves', () => {
  const text = readFileSync(OPENAPI_FILE, 'utf8');
  // yaml refuses a key twice in one map: a hand-written copy of a generated schema fails here.
  const schemas = (parse(text) as { components: { schemas: Record<string, unknown> } }).components.schemas;
  for (const name of contractComponents().keys()) assert.ok(name in schemas, `${name} is missing`);
  const refs = [...text.matchAll(/\$ref: ["']?#\/components\/schemas\/([A-Za-z0-9]+)/g)].map((m) => m[1]!);
  for (const ref of new Set(refs)) assert.ok(ref in schemas, `#/components/schemas/${ref} is not defined`);
});
