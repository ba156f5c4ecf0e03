/**
 * The distilled student's loss for one batch, every method combined:
 *   L = w_ce·CE(y, s)
 *     + [logits]    α·T²·KL(p_T ‖ softmax(s/T)),  p_T = Σ_k w_k·softmax(t_k/T)  (w_ce = 1 − α, else 1)
 *     + [hint]      β_h·Σ_i w_i·mean((P_i(s_i) − t_i)²)
 *     + [attention] β_a·Σ_j w_j·mean_batch ‖a(s_j) − a(t_j)‖₂
 * with T and α taken from their schedules at the current epoch. Each term is reported before its
 * weight (as `kd` always was), so a term's own progress can be followed.
 */
import * as tf from '@tensorflow/tfjs';
import { tappedForward, type TappedOutputs } from '../models/build.js';
import { scheduleAt, type Method, type Schedule } from '../spec-distillation.js';
import { attentionLoss, attentionMap, hintLoss } from './features.js';
import { ensembleLogProbs, studentHead } from './loss.js';
import { fusedHeadAvailable, type SoftTargets } from './loss-head.js';
import type { Projections } from './projection.js';
import type { BatchTargets, TargetSource } from './targets.js';

export type TermName = 'ce' | 'kd' | 'hint' | 'attention';

/** A student layer matched with the feature need (see targets.ts) at the same index. */
export interface FeaturePair {
  student: string;
  weight: number;
  /** Index into the target source's feature needs. */
  need: number;
}

export interface ObjectiveSetup {
  methods: readonly Method[];
  temperature: Schedule;
  alpha: Schedule;
  epochs: number;
  /** One per teacher (normalised when used). */
  teacherWeights: readonly number[];
  targets: TargetSource;
  hint?: { beta: number; pairs: FeaturePair[]; projections: Projections };
  attention?: { beta: number; pairs: FeaturePair[] };
}

export interface ObjectiveValue {
  loss: tf.Scalar;
  /** In the order of `DistillObjective.terms`. */
  terms: tf.Scalar[];
  /** How many of the batch the student gets right. */
  correct: tf.Scalar;
}

export class DistillObjective {
  readonly terms: TermName[];
  private readonly forward: (x: tf.Tensor, training: boolean) => TappedOutputs;
  private readonly taps: string[];

  constructor(
    student: tf.LayersModel,
    readonly setup: ObjectiveSetup,
  ) {
    const logits = setup.methods.includes('logits');
    this.terms = ['ce', ...(logits ? (['kd'] as const) : []), ...(setup.hint ? (['hint'] as const) : []), ...(setup.attention ? (['attention'] as const) : [])];
    this.taps = [...(setup.hint?.pairs ?? []), ...(setup.attention?.pairs ?? [])].map((p) => p.student);
    this.forward = tappedForward(student, this.taps);
  }

  /** True when temperature or α changes over the epochs. */
  get scheduled(): boolean {
    return typeof this.setup.temperature !== 'number' || typeof this.setup.alpha !== 'number';
  }

  /** Temperature and α in epoch `epoch` (1-based). */
  settings(epoch: number): { temperature: number; alpha: number } {
    return { temperature: scheduleAt(this.setup.temperature, epoch, this.setup.epochs), alpha: scheduleAt(this.setup.alpha, epoch, this.setup.epochs) };
  }

  /** The student's forward pass (inside the tape) and every term against the batch's targets. */
  evaluate(epoch: number, x: tf.Tensor, labels: tf.Tensor1D, targets: BatchTargets): ObjectiveValue {
    const { setup } = this;
    const out = this.forward(x, true);
    const tap = (i: number) => out.taps[i]!;
    const { temperature, alpha } = this.settings(epoch);
    const soft = setup.methods.includes('logits');
    const head = studentHead(labels, out.logits, soft ? this.softTargets(targets, temperature) : undefined, {
      temperature,
      ceWeight: soft ? 1 - alpha : 1,
      kdWeight: soft ? alpha * temperature * temperature : 0,
    });
    const terms: tf.Scalar[] = soft ? [head.ce, head.kd] : [head.ce];
    let loss = head.loss;
    if (setup.hint) {
      const { pairs, projections } = setup.hint;
      const hint = weightedSum(pairs.map((p, i) => tf.mul(hintLoss(projections.apply(i, tap(i)), targets.features[p.need]!), p.weight)));
      loss = tf.add(loss, tf.mul(hint, setup.hint.beta));
      terms.push(hint);
    }
    if (setup.attention) {
      const offset = setup.hint?.pairs.length ?? 0;
      const attention = weightedSum(
        setup.attention.pairs.map((p, j) =>
          tf.mul(attentionLoss(attentionMap(tap(offset + j) as tf.Tensor4D), targets.features[p.need] as tf.Tensor2D), p.weight),
        ),
      );
      loss = tf.add(loss, tf.mul(attention, setup.attention.beta));
      terms.push(attention);
    }
    return { loss, terms, correct: head.correct };
  }

  /** One teacher's logits go to the head as they are (it takes their log-softmax at T); several are mixed first. */
  private softTargets(targets: BatchTargets, temperature: number): SoftTargets {
    const [only, ...more] = targets.logits;
    if (only && more.length === 0 && fusedHeadAvailable()) return { teacherLogits: only };
    return { logProbs: ensembleLogProbs(targets.logits, this.setup.teacherWeights, temperature) };
  }
}

const weightedSum = (parts: tf.Tensor[]): tf.Scalar => (parts.length === 1 ? parts[0]! : tf.addN(parts)) as tf.Scalar;
