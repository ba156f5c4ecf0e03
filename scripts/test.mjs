#!/usr/bin/env node
// Runs the suite with Node's test runner through tsx: `npm test`, or `npm test -- test/ml` for part of it.
// `--faults` (npm run test:faults) runs the fault-injection suite and soak instead: test/faults/*.fault.ts,
// real workers killed, Redis and Postgres restarted (private servers of the test's own), the API restarted.
// Test files run one at a time: the machine has two cores, and training tests want both.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const faults = args.includes('--faults');
const suffix = faults ? '.fault.ts' : '.test.ts';
const roots = args.filter((a) => a !== '--faults');

function findTests(path) {
  if (statSync(path).isFile()) return path.endsWith(suffix) ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => findTests(join(path, entry)));
}

const files = (roots.length ? roots : [faults ? 'test/faults' : 'test']).flatMap(findTests);
if (files.length === 0) {
  console.error(`no *${suffix} files under ${roots.join(' ') || 'test'}`);
  process.exit(1);
}

// Names this run's databases (see test/support/env.ts): start time, then a random tag.
process.env.DISTILL_TEST_RUN = `${Math.floor(Date.now() / 1000)}_${Math.random().toString(36).slice(2, 8)}`;
const setup = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-setup.ts'], { stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const started = Date.now();
const result = spawnSync(
  process.execPath,
  // --test-force-exit: a file whose tests are done ends even if a handle stays open, so a leak cannot hang CI.
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-teardown.ts'], { stdio: 'inherit' });
console.log(`${files.length} test file(s) in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(result.status ?? 1);
