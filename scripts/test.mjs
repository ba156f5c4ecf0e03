#!/usr/bin/env node
// Runs the whole suite with Node's test runner through tsx: `npm test`, or `npm test -- test/ml` for part of it.
// Test files run one at a time: the machine has two cores, and training tests want both.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((entry) => findTests(join(path, entry)));
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ['test']).flatMap(findTests);
if (files.length === 0) {
  console.error(`no test files under ${roots.join(' ') || 'test'}`);
  process.exit(1);
}

// Names this run's databases (see test/support/env.ts): start time, then a random tag.
process.env.DISTILL_TEST_RUN = `${Math.floor(Date.now() / 1000)}_${Math.random().toString(36).slice(2, 8)}`;
const setup = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-setup.ts'], { stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const result = spawnSync(
  process.execPath,
  // --test-force-exit: a file whose tests are done ends even if a handle stays open, so a leak cannot hang CI.
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-teardown.ts'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
