/**
 * One training phase: a hand-written loop over shuffled batches (teacher, distilled student or
 * baseline). Per step it only enqueues tensor ops; it reads numbers back once every `metricsEvery`
 * steps and once per epoch, checks the abort signal between batches and yields to the event loop.
 */
import * as tf from '@tensorflow/tfjs';
import { hardLabelHead } from '../distill/loss.js';
import type { DistillObjective } from '../distill/objective.js';
import { DivergedError, JobCancelledError } from '../errors.js';
import type { EngineEvent, ModelRole, TrainingPhase } from '../events.js';
import { dropoutLayers, logitsOf, outputsProbabilities } from '../models/build.js';
import type { PhaseProgress } from '../progress.js';
import { Rng, deriveSeed } from '../rng.js';
import { evaluateLogits } from './evaluate.js';

export interface FitTask {
  role: ModelRole;
  phase: TrainingPhase;
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  learningRate: number;
  train: { x: tf.Tensor; y: tf.Tensor1D };
  validation?: { x: tf.Tensor; y: tf.Tensor1D };
  /** A distilled student: its loss, and the teachers' targets it reads per batch. */
  distill?: DistillObjective;
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
  progress: PhaseProgress;
  signal?: AbortSignal;
  metricsEvery?: number;
  /** Awaited after each epoch (the checkpoint is persisted before training goes on). */
  afterEpoch(epoch: number, summary: EpochSummary, terms?: EpochTerms): Promise<void>;
}

/** A distilled student's epoch: temperature and α used, and each loss term's mean over the epoch. */
export interface EpochTerms {
  epoch: number;
  temperature: number;
  alpha: number;
  loss: number;
  ce: number;
  kd?: number;
  hint?: number;
  attention?: number;
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
    let terms: EpochTerms | undefined;
    const termCount = task.distill ? task.distill.terms.length : 0;
    // Per epoch: Σ size·loss, Σ correct, Σ size·term for each reported term.
    let sums: tf.Tensor1D = tf.zeros([2 + termCount]);
    let lastMetrics = { at: performance.now(), samples: 0 };
    try {
      for (let step = 1; step <= steps; step++) {
        throwIfAborted(control.signal);
        const start = (step - 1) * task.batchSize;
        const size = Math.min(task.batchSize, n - start);
        dropouts.forEach((layer, i) => (layer.seed = deriveSeed(task.seed, task.randomStream, epoch, step, i)));
        let aux: tf.Tensor1D | undefined;
        const next = tf.tidy(() => {
          const idx = order.slice(start, size);
          const xb = tf.gather(task.train.x, idx);
          const yb = tf.gather(task.train.y, idx) as tf.Tensor1D;
          // Teacher outputs are computed outside minimize(): nothing of the teachers goes on the tape.
          const targets = task.distill?.setup.targets.batch(idx);
          task.optimizer.minimize(() => {
            if (!task.distill || !targets) {
              const logits = logitsOf(task.model, xb, true, probabilities);
              const { ce, correct } = hardLabelHead(yb, logits);
              aux = tf.keep(tf.stack([ce, correct]) as tf.Tensor1D);
              return ce;
            }
            const value = task.distill.evaluate(epoch, xb, yb, targets);
            aux = tf.keep(tf.stack([value.loss, value.correct, ...value.terms]) as tf.Tensor1D);
            return value.loss;
          });
          // [loss, correct, ...terms]: every entry but `correct` is a batch mean, weighted by size.
          const weights = tf.tensor1d([size, 1, ...new Array<number>(termCount).fill(size)]);
          return tf.add(sums, tf.mul(aux!, weights)) as tf.Tensor1D;
        });
        sums.dispose();
        sums = next;
        lastMetrics.samples += size;
        const now = performance.now();
        control.progress.set((epoch - 1 + step / steps) / task.epochs);
        if (step % metricsEvery === 0 || step === steps || now - lastMetrics.at > METRICS_AT_LEAST_EVERY_MS) {
          const [loss, correct, ...terms] = aux!.dataSync();
          throwIfDiverged(task, epoch, loss!);
          const seconds = Math.max((performance.now() - lastMetrics.at) / 1000, 1e-6);
          control.emit({
            type: 'metrics',
            phase: task.phase,
            model: task.role,
            epoch,
            step,
            loss: loss!,
            ...(task.distill ? Object.fromEntries(task.distill.terms.map((t, i) => [t, terms[i]!])) : {}),
            ...(task.distill?.scheduled ? task.distill.settings(epoch) : {}),
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
      const [lossTotal, correctTotal, ...termTotals] = sums.dataSync();
      // A NaN or infinite batch loss anywhere in the epoch makes the sum non-finite.
      throwIfDiverged(task, epoch, lossTotal!);
      if (task.distill) {
        terms = {
          epoch,
          ...task.distill.settings(epoch),
          loss: lossTotal! / n,
          ...Object.fromEntries(task.distill.terms.map((t, i) => [t, termTotals[i]! / n])),
        } as EpochTerms;
      }
      const summary: EpochSummary = {
        epoch,
        train_loss: lossTotal! / n,
        train_accuracy: correctTotal! / n,
        val_loss: null,
        val_accuracy: null,
        seconds: 0,
      };
      if (task.validation && task.validation.x.shape[0]! > 0) {
        const val = await evaluateLogits(task.model, task.validation.x, task.validation.y);
        throwIfDiverged(task, epoch, val.loss, 'validation');
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
      sums.dispose();
    }
    await control.afterEpoch(epoch, history[history.length - 1]!, terms);
    await yieldToEventLoop();
    lastYield = performance.now();
  }
  return history;
}

/** Checked on values already read back (metrics, epoch sums): no extra sync per batch. */
function throwIfDiverged(task: FitTask, epoch: number, loss: number, which = 'training'): void {
  if (Number.isFinite(loss)) return;
  const model = task.role === 'student' ? 'the distilled student' : `the ${task.role}`;
  throw new DivergedError(`${model} diverged in epoch ${epoch}: its ${which} loss became ${loss}; try a lower learning_rate (now ${task.learningRate})`);
}
