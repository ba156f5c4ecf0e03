import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { REPO_ROOT } from '../support/cli.js';

it("`npm run lint` passes: Biome's lint rules and formatting (biome.json); `npm run format` fixes the formatting", () => {
  const result = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
});
