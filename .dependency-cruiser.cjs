/**
 * The import rules of src/, checked by dependency-cruiser in `npm test` (test/foundation/boundaries.test.ts)
 * and by `npm run deps`. This file sees every import, `import type` included; the rules about what a process
 * loads at run time (no TensorFlow.js in the API) are in .dependency-cruiser.runtime.cjs.
 *
 * The layers, lowest first: ml (the engine: no server code), db and storage, queue, jobs and resources,
 * api and worker, cli. A folder imports its own layer's neighbours or lower ones, never higher.
 * The engine has two entries: src/ml/tfjs-free.ts (specs, checks, estimates, events, errors, parsers,
 * types; never loads TensorFlow.js) for everything, and src/ml/index.ts (that plus runJob, backends,
 * models, tfjs) for the processes that train or load models.
 */
const NOT_GENERATED = '^src/db/generated/';
const TRAINING_PROCESSES = ['^src/worker/child\\.ts$', '^src/resources/(model|onnx)-check\\.ts$', '^src/resources/model-export\\.ts$'];

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const layers = [
  ['queue', 'jobs|resources|api|worker|cli'],
  ['db', 'storage|queue|jobs|resources|api|worker|cli|metrics'],
  ['storage', 'db|queue|jobs|resources|api|worker|cli|metrics'],
  ['jobs', 'api|worker|cli'],
  ['resources', 'api|worker|cli'],
  ['api', 'worker|cli'],
  ['worker', 'api|cli'],
].map(([from, higher]) => ({
  name: `${from}-imports-downward`,
  comment: `src/${from} is below ${higher.split('|').join(', ')}: it must not import them`,
  severity: 'error',
  from: { path: `^src/${from}/` },
  to: { path: `^src/(${higher})/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a module must not reach itself through its imports (Prisma\'s generated client is not ours)',
      severity: 'error',
      from: { path: '^src/', pathNot: NOT_GENERATED },
      to: { circular: true },
    },
    {
      name: 'ml-knows-no-server',
      comment: 'src/ml is the engine: it imports nothing of HTTP, queues, databases or storage (the wire contract\'s plain values, src/contract, are not server code)',
      severity: 'error',
      from: { path: '^src/ml/' },
      to: { path: '^src/(?!ml/|contract/)' },
    },
    {
      name: 'ml-through-its-entries',
      comment: 'outside src/ml, import src/ml/tfjs-free.ts or src/ml/index.ts, never a module behind them',
      severity: 'error',
      from: { path: '^src/(?!ml/)' },
      to: { path: '^src/ml/', pathNot: '^src/ml/(index|tfjs-free)\\.ts$' },
    },
    {
      name: 'tfjs-through-the-engine',
      comment: 'only src/ml imports @tensorflow; others get tfjs from src/ml/index.ts',
      severity: 'error',
      from: { path: '^src/(?!ml/)' },
      to: { path: '@tensorflow/' },
    },
    {
      name: 'engine-entry-only-where-it-trains',
      comment:
        'src/ml/index.ts loads TensorFlow.js: only the training child and the model checks (upload check child) import it; the CLI imports it lazily (await import) in the commands that train; everything else imports src/ml/tfjs-free.ts',
      severity: 'error',
      from: { path: '^src/(?!ml/)', pathNot: TRAINING_PROCESSES },
      to: { path: '^src/ml/index\\.ts$', dependencyTypesNot: ['dynamic-import'] },
    },
    ...layers,
  ],
  options: {
    // Type-only imports count here: a type a module names is part of what it depends on.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    includeOnly: { path: ['^src/', 'node_modules/@tensorflow/'] },
  },
};
