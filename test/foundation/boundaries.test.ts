/**
 * The import rules of src/ hold (issue 14): no cycles, layers import downward, code outside src/ml reaches
 * the engine only through its two entries, and neither the API nor src/ml/tfjs-free.ts loads TensorFlow.js.
 * dependency-cruiser checks them as `npm run deps` does; the rules and why are in .dependency-cruiser.cjs
 * (every import) and .dependency-cruiser.runtime.cjs (what is loaded once compiled).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../support/cli.js';

const DEPCRUISE = 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs';

function cruise(config: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', config, '--output-type', 'err'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('import boundaries', () => {
  for (const config of ['.dependency-cruiser.cjs', '.dependency-cruiser.runtime.cjs']) {
    it(`hold: ${config}`, () => {
      const { status, output } = cruise(config);
      assert.equal(status, 0, `dependency-cruiser found violations of ${config}:\n${output}`);
      assert.match(output, /no dependency violations found/);
    });
  }
});
