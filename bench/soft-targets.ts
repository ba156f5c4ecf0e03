// Soft targets for a whole training split: the engine's cachedTargets against a bare teacher.apply
// loop over the same teacher, same chunk, same process. Issue 17's goal: 60,000 forwards cost about a
// third of one teacher training epoch.
//   tsx bench/soft-targets.ts [--samples 60000] [--backend wasm]
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendChoice } from '../src/ml/backend/index.js';
import { cachedTargets } from '../src/ml/distill/targets.js';
import { buildModel, forwardFlops } from './workloads.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const samples = Number(arg('samples', '60000'));
const info = await initBackend(arg('backend', 'wasm') as BackendChoice);
const teacher = buildModel('mlp', 'teacher');
const x = tf.randomUniform([samples, 784]);
const gflop = (forwardFlops(teacher) * samples) / 1e9;

/** Seconds of CPU this process used (user + system) while `fn` ran: steadier than wall time on a shared machine. */
async function timed(fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6 };
}

function bare(chunk: number): void {
  for (let i = 0; i < samples; i += chunk) {
    const out = tf.tidy(() => teacher.apply(x.slice(i, Math.min(chunk, samples - i)), { training: false }) as tf.Tensor);
    out.dataSync();
    out.dispose();
  }
}

async function engine(): Promise<void> {
  const source = await cachedTargets([{ model: teacher, x }], true, []);
  tf.tidy(() => source.batch(tf.tensor1d([0], 'int32')).logits[0]!.dataSync());
  source.dispose();
}

bare(256);
for (let rep = 0; rep < 2; rep++) {
  const b = await timed(() => bare(256));
  const e = await timed(engine);
  const say = (t: { wall: number; cpu: number }) =>
    `${t.wall.toFixed(2)} s wall, ${t.cpu.toFixed(2)} s CPU (${(gflop / t.cpu).toFixed(1)} GFLOP per CPU-second)`;
  console.log(`${info.name}: ${samples} teacher forwards: bare loop ${say(b)}; cachedTargets ${say(e)}`);
}
