#!/usr/bin/env node
// The fault-injection suite and the soak (test/faults/*.fault.ts): real worker processes killed, Redis and
// Postgres restarted or emptied, the API restarted under WebSocket clients; then the invariants checked.
// `npm run test:faults`, or `npm run test:faults -- test/faults/redis.fault.ts` for one scenario.
// Scenarios that restart Redis or Postgres start private servers of their own (test/support/services.ts):
// the shared ones on 6379 and 5432 are never restarted or emptied. Files run one at a time.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findFaultTests(path) {
  if (statSync(path).isFile()) return path.endsWith('.fault.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((entry) => findFaultTests(join(path, entry)));
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ['test/faults']).flatMap(findFaultTests);
if (files.length === 0) {
  console.error(`no *.fault.ts files under ${roots.join(' ') || 'test/faults'}`);
  process.exit(1);
}

// Same database naming and template as `npm test` (see scripts/test.mjs and test/support/env.ts).
process.env.DISTILL_TEST_RUN = `${Math.floor(Date.now() / 1000)}_${Math.random().toString(36).slice(2, 8)}`;
const setup = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-setup.ts'], { stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

const started = Date.now();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-teardown.ts'], { stdio: 'inherit' });
console.log(`fault suite: ${files.length} file(s) in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(result.status ?? 1);
