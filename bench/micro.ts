// One benchmark process: a backend configuration fixed at start (threads cannot change in a process),
// measuring every workload with stock and fast wasm kernels interleaved, so their ratio comes from
// the same minutes of a noisy shared machine. Prints one JSON line per measurement.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/ml/backend/index.js';
import { registerWasmKernels } from '../src/ml/backend/wasm-kernels/register.js';
import { type Batch, buildModel, type LoopName, makeBatches, type PairName, step, stepFlops } from './workloads.js';

export type KernelSet = 'stock' | 'fast' | 'cpu';

export interface Measurement {
  threads: number;
  pair: PairName;
  batch: number;
  loop: LoopName;
  kernels: KernelSet;
  samplesPerSec: number;
  gflops: number;
  steps: number;
}

export interface MicroOptions {
  threads: number;
  pairs: PairName[];
  batches: number[];
  loops: LoopName[];
  seconds: number;
  reps: number;
  stock: boolean;
  cpu: boolean;
}

const LOOPS: LoopName[] = ['teacher', 'cached', 'textbook'];

/** Runs steps for about `seconds` after one warm-up step; returns samples per second. */
function time(run: () => tf.Scalar, batchSize: number, seconds: number): { rate: number; steps: number } {
  run().dispose();
  let steps = 0;
  const start = performance.now();
  while (steps < 2 || performance.now() - start < seconds * 1000) {
    const loss = run();
    loss.dataSync(); // wasm and cpu run synchronously; this keeps the loop honest on other backends
    loss.dispose();
    steps++;
    if (performance.now() - start > 4 * seconds * 1000) break; // very slow kernels: a rough figure is enough
  }
  return { rate: (steps * batchSize) / ((performance.now() - start) / 1000), steps };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function measurePair(pair: PairName, batchSize: number, o: MicroOptions, emit: (m: Measurement) => void): Promise<void> {
  const teacher = buildModel(pair, 'teacher');
  const student = buildModel(pair, 'student');
  const batches: Batch[] = makeBatches(pair, batchSize, teacher);
  const sets: KernelSet[] = o.stock ? ['stock', 'fast'] : ['fast'];
  for (const loop of o.loops) {
    const optimizers = new Map<KernelSet, tf.Optimizer>();
    const rates = new Map<KernelSet, number[]>();
    let steps = 0;
    for (let rep = 0; rep < o.reps; rep++) {
      for (const kernels of sets) {
        registerWasmKernels(kernels === 'fast');
        const optimizer = optimizers.get(kernels) ?? tf.train.adam(1e-3);
        optimizers.set(kernels, optimizer);
        let i = 0;
        const r = time(() => step(loop, teacher, student, optimizer, batches[i++ % batches.length]!), batchSize, o.seconds);
        rates.set(kernels, [...(rates.get(kernels) ?? []), r.rate]);
        steps += r.steps;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    for (const [kernels, r] of rates) {
      const samplesPerSec = median(r);
      emit({
        threads: o.threads,
        pair,
        batch: batchSize,
        loop,
        kernels,
        samplesPerSec,
        gflops: (samplesPerSec * stepFlops(loop, teacher, student)) / 1e9,
        steps,
      });
    }
    for (const opt of optimizers.values()) opt.dispose();
  }
  registerWasmKernels(true);
  if (o.cpu && batchSize === 128) {
    // The pure-JS backend is ~20x slower: only the student-only loop, briefly, for scale.
    await tf.setBackend('cpu');
    const b = makeBatches(pair, batchSize, teacher, 1)[0]!;
    const optimizer = tf.train.adam(1e-3);
    const r = time(() => step('cached', teacher, student, optimizer, b), batchSize, o.seconds);
    emit({
      threads: 1,
      pair,
      batch: batchSize,
      loop: 'cached',
      kernels: 'cpu',
      samplesPerSec: r.rate,
      gflops: (r.rate * stepFlops('cached', teacher, student)) / 1e9,
      steps: r.steps,
    });
    optimizer.dispose();
    tf.dispose([b.x, b.y, b.soft]);
    await tf.setBackend('wasm');
  }
  for (const b of batches) tf.dispose([b.x, b.y, b.soft]);
  teacher.dispose();
  student.dispose();
}

/** The wasm SIMD ceiling for this configuration: a large plain (XNNPACK) matmul, best of 5. */
export function matmulCeiling(n = 1024): number {
  const [a, b] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    const start = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
    if (i > 0) best = Math.min(best, performance.now() - start);
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

export async function runMicro(o: MicroOptions, emit: (m: Measurement) => void, ceiling?: (gflops: number) => void): Promise<void> {
  const info = await initBackend('wasm', { threads: o.threads });
  if (info.threads !== o.threads) throw new Error(`asked for ${o.threads} wasm threads, got ${info.threads}`);
  ceiling?.(matmulCeiling());
  for (const pair of o.pairs) for (const batch of o.batches) await measurePair(pair, batch, o, emit);
}

export function parseMicroArgs(argv: string[]): MicroOptions {
  const get = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
  };
  return {
    threads: Number(get('threads', '1')),
    pairs: get('pairs', 'mlp,cnn').split(',') as PairName[],
    batches: get('batches', '128,512').split(',').map(Number),
    loops: get('loops', LOOPS.join(',')).split(',') as LoopName[],
    seconds: Number(get('seconds', '2')),
    reps: Number(get('reps', '2')),
    stock: !argv.includes('--no-stock'),
    cpu: argv.includes('--cpu'),
  };
}
