/**
 * src/contract is the one definition of the wire: the engine's lists agree with it, and the dashboard
 * bundles no server code from it (types only, and the plain-value files).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { MODEL_KINDS, PHASES, TEACHER_KEYS } from '../../src/contract/index.js';
import { PHASES as ENGINE_PHASES } from '../../src/ml/events.js';
import { TEACHER_KEYS as ENGINE_TEACHER_KEYS } from '../../src/ml/spec.js';
// @ts-expect-error: a plain .mjs build script, without types
import { buildDashboard } from '../../web/build.mjs';

it("the contract's teachers and phases are the engine's", () => {
  assert.deepEqual([...TEACHER_KEYS], ENGINE_TEACHER_KEYS);
  assert.deepEqual(MODEL_KINDS, ['student', ...ENGINE_TEACHER_KEYS, 'baseline']);
  assert.equal(PHASES, ENGINE_PHASES);
});

it("the dashboard's bundle holds its own code, uPlot and the contract's plain values: no schema library, no server code", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dashboard-'));
  try {
    const { inputs } = (await buildDashboard({ outDir: `${dir}/`, minify: false })) as { inputs: string[] };
    const foreign = inputs.filter((path) => !/^web\/src\//.test(path) && !/(^|\/)node_modules\/uplot\//.test(path));
    assert.deepEqual(foreign.sort(), ['src/contract/builtin-datasets.ts', 'src/contract/phases.ts', 'src/contract/statuses.ts']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
