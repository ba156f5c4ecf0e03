/**
 * The job report: what each model scores on the test split, what it costs to keep and to run, and
 * what distillation bought. All fields snake_case, as the API serves them.
 */
import * as tf from '@tensorflow/tfjs';
import { predictLogits } from './models/build.js';
import type { ResolvedSpec } from './spec.js';
import type { Method } from './spec-distillation.js';
import type { ExportReport } from './export/job-exports.js';
import { scoreLogits } from './train/evaluate.js';
import type { EpochSummary, EpochTerms } from './train/fit.js';

export interface ClassAccuracy {
  class: string;
  /** null when the test split holds no sample of the class. */
  accuracy: number | null;
  support: number;
}

export interface ModelReport {
  /** trained: in this job; given: loaded from model_id. */
  origin: 'trained' | 'given';
  input_shape: number[];
  test_accuracy: number;
  test_loss: number;
  per_class_accuracy: ClassAccuracy[];
  parameters: number;
  /** model.json + weights.bin. */
  bytes: number;
  /** Median milliseconds per sample at batch 1 and batch 256. */
  latency_ms_per_sample: { batch_1: number; batch_256: number };
  history: EpochSummary[];
}

export interface Report {
  backend: string;
  /** How the arithmetic ran: threads, the OpenBLAS kernels (wasm-blas), how Adam updated (src/ml/backend/index.ts computeOf). */
  compute?: { threads: number; blas: string | null; adam: 'fused-native' | 'fused-js' | 'stock' };
  dataset: { source: string; input_shape: number[]; classes: string[]; train_samples: number; validation_samples: number; test_samples: number };
  soft_targets: 'cached' | 'per_batch';
  /** The teacher (the first of `teachers`). */
  teacher: ModelReport;
  /** With several teachers: each of them, in order. */
  teachers?: ModelReport[];
  /** With several teachers: their weighted mean of softmax outputs as one classifier. */
  teacher_ensemble?: { test_accuracy: number; weights: number[] };
  student: ModelReport;
  baseline?: ModelReport;
  /** Jobs using hints, attention, several teachers or schedules: what the student learned from, per epoch. */
  distillation?: DistillationReport;
  /** Jobs with `export`: ONNX checks and one row per variant of the student (size, accuracy, latency). */
  exports?: ExportReport;
  /** Teacher parameters / student parameters. */
  compression_ratio: number;
  /** Teacher bytes / student bytes. */
  size_ratio: number;
  /** Teacher latency / student latency per sample. */
  speed_up: { batch_1: number; batch_256: number };
  /** Share of test samples where teacher (with several: their ensemble) and student predict the same class. */
  teacher_student_agreement: number;
  /** Student test accuracy minus baseline test accuracy (null without a baseline). */
  distillation_gain: number | null;
  /** Seconds per phase of this run (a resumed run counts only its own). */
  timings: Record<string, number>;
  elapsed_seconds: number;
  spec: ResolvedSpec;
}

export interface DistillationReport {
  methods: Method[];
  teachers: number;
  /** Weights of the hint projections, trained with the student and not part of it. */
  projection_parameters: number;
  /** Per epoch: temperature, α, the loss and each term before its weight (ce, kd, hint, attention). */
  history: EpochTerms[];
}

export interface TestEvaluation {
  loss: number;
  accuracy: number;
  perClass: ClassAccuracy[];
  predictions: Int32Array;
}

export async function evaluateOnTest(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor1D, classNames: readonly string[]): Promise<TestEvaluation> {
  const logits = await predictLogits(model, x);
  try {
    const { loss, accuracy } = scoreLogits(logits, y);
    const argMax = tf.argMax(logits, 1);
    const predictions = Int32Array.from(argMax.dataSync());
    argMax.dispose();
    const labels = y.dataSync();
    const correct = new Array<number>(classNames.length).fill(0);
    const support = new Array<number>(classNames.length).fill(0);
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      support[label]!++;
      if (predictions[i] === label) correct[label]!++;
    }
    const perClass = classNames.map((name, k) => ({ class: name, accuracy: support[k] ? correct[k]! / support[k]! : null, support: support[k]! }));
    return { loss, accuracy, perClass, predictions };
  } finally {
    logits.dispose();
  }
}

/** Median ms per sample at batch 1 and 256: a few warm-up runs, then repeats within a small time budget. */
export async function measureLatency(model: tf.LayersModel, inputShape: readonly number[]): Promise<{ batch_1: number; batch_256: number }> {
  const perSample = async (batch: number, repeats: number, budgetMs: number) => {
    const input = tf.zeros([batch, ...inputShape]);
    try {
      const run = () => {
        const t0 = performance.now();
        const out = model.predict(input) as tf.Tensor;
        out.dataSync();
        out.dispose();
        return performance.now() - t0;
      };
      run();
      run();
      const times: number[] = [];
      const started = performance.now();
      while (times.length < repeats && (times.length < 3 || performance.now() - started < budgetMs)) {
        times.push(run());
        await new Promise<void>((resolve) => setImmediate(resolve)); // stay responsive while timing
      }
      times.sort((a, b) => a - b);
      return round(times[Math.floor(times.length / 2)]! / batch, 6);
    } finally {
      input.dispose();
    }
  };
  return { batch_1: await perSample(1, 21, 300), batch_256: await perSample(256, 7, 1000) };
}

export function agreement(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length ? same / a.length : 0;
}

import { round } from './round.js';

export { round };
export const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 3) : 0);
