/**
 * What processes load at run time: the same modules as .dependency-cruiser.cjs, counting only the imports
 * left once TypeScript is compiled (`import type` is gone; `await import()` stays). Checked with it in
 * `npm test` (test/foundation/boundaries.test.ts) and `npm run deps`.
 */
const { options } = require('./.dependency-cruiser.cjs');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'tfjs-free-entry-loads-no-tfjs',
      comment: 'src/ml/tfjs-free.ts must not load @tensorflow, directly or through anything it imports',
      severity: 'error',
      from: { path: '^src/ml/tfjs-free\\.ts$' },
      to: { path: '@tensorflow/', reachable: true },
    },
    {
      name: 'api-loads-no-tfjs',
      comment:
        'the API process (src/api/server.ts and all it imports, lazily or not) must not load @tensorflow: model uploads are loaded in a child process (src/resources/upload-check-child.ts)',
      severity: 'error',
      from: { path: '^src/api/server\\.ts$' },
      to: { path: '@tensorflow/', reachable: true },
    },
  ],
  options: { ...options, tsPreCompilationDeps: false },
};
