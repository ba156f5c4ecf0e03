/**
 * Soft targets from an ONNX teacher vs a tfjs teacher of the same size (issue 18): the time to compute
 * the cached soft targets of builtin:mnist's training split (seed 42: 7,200 digits). ONNX: the PyTorch
 * fixture (test/fixtures/onnx/mnist-cnn.onnx, 27,562 parameters) through onnxruntime-node, layout
 * conversion and normalization included, then cached by the engine as for any teacher. tfjs: the same
 * architecture built in tfjs (the same 27,562 parameters) through the engine's cachedTargets. Runs
 * alternate, so both see the same load. Usage: npx tsx bench/onnx-teacher.ts [--reps 5]
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/ml/backend/index.js';
import { loadMnist } from '../src/ml/data/mnist.js';
import { splitDataset } from '../src/ml/data/prepare.js';
import { cachedTargets } from '../src/ml/distill/targets.js';
import { inspectOnnx } from '../src/ml/onnx/inspect.js';
import { OnnxRunner } from '../src/ml/onnx/runner.js';

const reps = Number(process.argv[process.argv.indexOf('--reps') + 1] || 5);
const backend = await initBackend('auto');
const split = splitDataset(loadMnist(), { seed: 42, validationFraction: 0.1, testFraction: 0.2 });
const n = split.train.y.length;
const x = tf.tensor4d(split.train.x, [n, 28, 28, 1]);

const bytes = new Uint8Array(readFileSync(new URL('../test/fixtures/onnx/mnist-cnn.onnx', import.meta.url)));
const facts = await inspectOnnx(bytes, { layout: 'nchw', scale: 1, mean: [0.1307], std: [0.3081], output: 'logits' });
const runner = await OnnxRunner.open(bytes, facts);

const twin = tf.sequential({
  layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 64, activation: 'relu' }),
    tf.layers.dense({ units: 10 }),
  ],
});
if (twin.countParams() !== facts.parameters) throw new Error(`the tfjs twin has ${twin.countParams()} parameters, the ONNX teacher ${facts.parameters}`);

async function onnxTargets(): Promise<number> {
  const t0 = performance.now();
  const scores = tf.tensor2d(await runner.logits(split.train.x, n), [n, 10]);
  // The engine then caches them through the parameter-free stand-in, as for any teacher.
  const standIn = tf.sequential({ layers: [tf.layers.activation({ activation: 'linear', inputShape: [10] })] });
  const targets = await cachedTargets([{ model: standIn, x: scores }], true, []);
  const ms = performance.now() - t0;
  targets.dispose();
  standIn.dispose();
  scores.dispose();
  return ms;
}

async function tfjsTargets(): Promise<number> {
  const t0 = performance.now();
  const targets = await cachedTargets([{ model: twin, x }], true, []);
  tf.tidy(() => targets.batch(tf.tensor1d([0], 'int32')).logits[0]!.dataSync());
  const ms = performance.now() - t0;
  targets.dispose();
  return ms;
}

await onnxTargets();
await tfjsTargets();
const times = { onnx: [] as number[], tfjs: [] as number[] };
for (let r = 0; r < reps; r++) {
  times.onnx.push(await onnxTargets());
  times.tfjs.push(await tfjsTargets());
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const row = (name: string, v: number[]) =>
  `| ${name} | ${median(v).toFixed(0)} | ${Math.round(n / (median(v) / 1000)).toLocaleString('en-US')} | ${v.map((t) => t.toFixed(0)).join(', ')} |`;
console.log(`tfjs backend ${backend.name}; ${n} samples; ${facts.parameters} parameters each; ${reps} alternating repetitions after one warm-up each`);
console.log('| teacher | median ms | samples/s | all runs (ms) |\n|---|---:|---:|---|');
console.log(row('ONNX (onnxruntime-node 1.31.1, CPU)', times.onnx));
console.log(row(`tfjs (${backend.name})`, times.tfjs));
console.log(`ONNX / tfjs time: ${(median(times.onnx) / median(times.tfjs)).toFixed(2)}`);
await runner.release();
