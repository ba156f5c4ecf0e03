/**
 * One training phase: a hand-written loop over shuffled batches (teacher, distilled student or
 * baseline). Per step it only enqueues tensor ops; it reads numbers back once every `metricsEvery`
 * steps and once per epoch, checks the abort signal between batches and yields to the event loop.
 */
import * as tf from '@tensorflow/tfjs';
import { distillationLoss, crossEntropy } from '../distill/loss.js';
import { JobCancelledError } from '../errors.js';
import type { EngineEvent, ModelRole, TrainingPhase } from '../events.js';
import { dropoutLayers, logitsOf, outputsProbabilities } from '../models/build.js';
import type { ProgressTracker } from '../progress.js';
import { Rng, deriveSeed } from '../rng.js';
import { evaluateLogits } from './evaluate.js';

/** Where a distilled student's soft targets come from. */
export type SoftTargetSource =
  | { kind: 'cached'; logits: tf.Tensor2D }
  | { kind: 'per_batch'; teacher: tf.LayersModel; x: tf.Tensor };

export interface FitTask {
  role: ModelRole;
  phase: TrainingPhase;
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  learningRate: number;
  train: { x: tf.Tensor; y: tf.Tensor1D };
  validation?: { x: tf.Tensor; y: tf.Tensor1D };
  distill?: { temperature: number; alpha: number; targets: SoftTargetSource };
  epochs: number;
  batchSize: number;
  /** Epochs already done (resuming): training continues with epoch `startEpoch + 1`. */
  startEpoch: number;
  seed: number;
  /** Names the stream of shuffles and dropout masks; the baseline shares the student's. */
  randomStream: string;
}

export interface FitControl {
  emit(e: EngineEvent): void;
  progress: ProgressTracker;
  signal?: AbortSignal;
  metricsEvery?: number;
  /** Awaited after each epoch (the checkpoint is persisted before training goes on). */
  afterEpoch(epoch: number, summary: EpochSummary): Promise<void>;
}

export interface EpochSummary {
  epoch: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  seconds: number;
}

// Well under the 250 ms promise: on a busy machine wall time stretches between our checks.
const YIELD_EVERY_MS = 25;
const METRICS_AT_LEAST_EVERY_MS = 2000;

export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new JobCancelledError(typeof signal.reason === 'string' ? signal.reason : 'job cancelled');
}

export async function fit(task: FitTask, control: FitControl): Promise<EpochSummary[]> {
  const n = task.train.x.shape[0]!;
  const steps = Math.ceil(n / task.batchSize);
  const metricsEvery = control.metricsEvery ?? Math.min(50, Math.max(1, Math.ceil(steps / 4)));
  const probabilities = outputsProbabilities(task.model);
  const dropouts = dropoutLayers(task.model);
  const history: EpochSummary[] = [];
  await yieldToEventLoop();
  let lastYield = performance.now();

  for (let epoch = task.startEpoch + 1; epoch <= task.epochs; epoch++) {
    const epochStart = performance.now();
    // The shuffle of epoch k depends only on (seed, stream, k): a resumed run sees the same batches.
    const order = tf.tensor1d(new Rng(deriveSeed(task.seed, task.randomStream, 'epoch', epoch)).permutation(n), 'int32');
    let lossSum: tf.Scalar = tf.scalar(0);
    let correctSum: tf.Scalar = tf.scalar(0);
    let lastMetrics = { at: performance.now(), samples: 0 };
    try {
      for (let step = 1; step <= steps; step++) {
        throwIfAborted(control.signal);
        const start = (step - 1) * task.batchSize;
        const size = Math.min(task.batchSize, n - start);
        dropouts.forEach((layer, i) => (layer.seed = deriveSeed(task.seed, task.randomStream, epoch, step, i)));
        let aux: tf.Tensor1D | undefined;
        const sums = tf.tidy(() => {
          const idx = order.slice(start, size);
          const xb = tf.gather(task.train.x, idx);
          const yb = tf.gather(task.train.y, idx) as tf.Tensor1D;
          // Teacher logits are computed outside minimize(): nothing of the teacher goes on the tape.
          const teacherLogits = task.distill ? softTargetsFor(task.distill.targets, idx) : undefined;
          const cost = task.optimizer.minimize(() => {
            const logits = logitsOf(task.model, xb, true, probabilities);
            const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), yb), 'float32'));
            if (!task.distill || !teacherLogits) {
              const ce = crossEntropy(yb, logits);
              aux = tf.keep(tf.stack([ce, ce, tf.scalar(0), correct]) as tf.Tensor1D);
              return ce;
            }
            const terms = distillationLoss(yb, logits, teacherLogits, task.distill.temperature, task.distill.alpha);
            aux = tf.keep(tf.stack([terms.loss, terms.ce, terms.kd, correct]) as tf.Tensor1D);
            return terms.loss;
          }, true)!;
          return [tf.add(lossSum, tf.mul(cost, size)) as tf.Scalar, tf.add(correctSum, aux!.gather(3)) as tf.Scalar] as const;
        });
        lossSum.dispose();
        correctSum.dispose();
        lossSum = sums[0];
        correctSum = sums[1];
        lastMetrics.samples += size;
        const now = performance.now();
        control.progress.set((epoch - 1 + step / steps) / task.epochs);
        if (step % metricsEvery === 0 || step === steps || now - lastMetrics.at > METRICS_AT_LEAST_EVERY_MS) {
          const [loss, ce, kd, correct] = aux!.dataSync();
          const seconds = Math.max((performance.now() - lastMetrics.at) / 1000, 1e-6);
          control.emit({
            type: 'metrics',
            phase: task.phase,
            model: task.role,
            epoch,
            step,
            loss: loss!,
            ...(task.distill ? { ce: ce!, kd: kd! } : {}),
            accuracy: correct! / size,
            samples_per_second: Math.round(lastMetrics.samples / seconds),
            progress: control.progress.snapshot(epoch, task.epochs, step, steps),
          });
          lastMetrics = { at: performance.now(), samples: 0 };
        }
        aux!.dispose();
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
      const summary: EpochSummary = {
        epoch,
        train_loss: lossSum.dataSync()[0]! / n,
        train_accuracy: correctSum.dataSync()[0]! / n,
        val_loss: null,
        val_accuracy: null,
        seconds: 0,
      };
      if (task.validation && task.validation.x.shape[0]! > 0) {
        const val = await evaluateLogits(task.model, task.validation.x, task.validation.y);
        summary.val_loss = val.loss;
        summary.val_accuracy = val.accuracy;
      }
      summary.seconds = (performance.now() - epochStart) / 1000;
      history.push(summary);
      control.emit({
        type: 'epoch',
        phase: task.phase,
        model: task.role,
        epoch,
        epochs: task.epochs,
        train_loss: summary.train_loss,
        train_accuracy: summary.train_accuracy,
        val_loss: summary.val_loss,
        val_accuracy: summary.val_accuracy,
        learning_rate: task.learningRate,
        elapsed_seconds: summary.seconds,
        progress: control.progress.snapshot(epoch, task.epochs, steps, steps),
      });
    } finally {
      order.dispose();
      lossSum.dispose();
      correctSum.dispose();
    }
    await control.afterEpoch(epoch, history[history.length - 1]!);
    await yieldToEventLoop();
    lastYield = performance.now();
  }
  return history;
}

function softTargetsFor(source: SoftTargetSource, idx: tf.Tensor1D): tf.Tensor2D {
  if (source.kind === 'cached') return tf.gather(source.logits, idx);
  return logitsOf(source.teacher, tf.gather(source.x, idx), false);
}
