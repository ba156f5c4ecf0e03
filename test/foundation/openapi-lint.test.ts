import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { REPO_ROOT } from '../support/cli.js';

it('`npx @redocly/cli lint openapi.yaml` passes (rules in redocly.yaml)', () => {
  const result = spawnSync('npx', ['--no', '@redocly/cli', 'lint', 'openapi.yaml'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    // No usage reports or update checks from a test run.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    timeout: 120_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, output);
  assert.match(output, /valid/);
});
