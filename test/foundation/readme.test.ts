import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { configTable, README_PATH, readmeTable } from '../../scripts/config-table.js';
import { SETTINGS } from '../../src/config.js';

const readme = readFileSync(README_PATH, 'utf8');

it("README's configuration table is the one generated from src/config.ts (npm run docs:config)", () => {
  const table = readmeTable(readme);
  assert.ok(table !== undefined, 'README.md lacks the config-table markers');
  assert.equal(table, configTable(), 'README.md is stale: run `npm run docs:config`');
  for (const name of Object.keys(SETTINGS)) assert.match(table, new RegExp(`\\| \`${name}\` \\|`));
});

it('Quick start gives exactly two commands: install-and-run, and the whole test suite', () => {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start'));
  assert.ok(section, 'README.md has no "## Quick start" section');
  const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]?.trim());
  assert.deepEqual(commands, ['npm ci && npm start', 'npm test']);
});
