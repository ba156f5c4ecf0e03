/**
 * Hinton et al. (2015) distillation loss:
 *   L = (1-α)·CE(y, s) + α·T²·KL(softmax(t/T) ‖ softmax(s/T))
 * with the KL divergence summed over classes and averaged over the batch. The T² factor keeps the
 * soft term's gradient, which scales as 1/T², comparable to the hard term's across temperatures.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedHeadAvailable, type HeadValue, type HeadWeights, lossHead, type SoftTargets } from './loss-head.js';

export interface DistillationTerms {
  loss: tf.Scalar;
  /** Cross-entropy of the student on the hard labels, batch mean. */
  ce: tf.Scalar;
  /** KL(teacher ‖ student) at temperature T, batch mean (before the α·T² weight). */
  kd: tf.Scalar;
}

/** Cross-entropy of logits against integer labels, averaged over the batch. */
export function crossEntropy(labels: tf.Tensor1D, logits: tf.Tensor2D): tf.Scalar {
  return hardLabelHead(labels, logits).ce;
}

/** Cross-entropy on the hard labels and how many rows the logits get right. */
export function hardLabelHead(labels: tf.Tensor1D, logits: tf.Tensor2D): { ce: tf.Scalar; correct: tf.Scalar } {
  return studentHead(labels, logits, undefined, { temperature: 1, ceWeight: 1, kdWeight: 0 });
}

/**
 * w_ce·CE + w_kd·KL(p ‖ softmax(logits/T)) with its terms and the correct count: the one-kernel head
 * (loss-head.ts) where the backend has it, else the same from stock ops.
 */
export function studentHead(labels: tf.Tensor1D, logits: tf.Tensor2D, soft: SoftTargets | undefined, weights: HeadWeights): HeadValue {
  if (fusedHeadAvailable()) return lossHead(labels, logits, soft, weights);
  return tf.tidy(() => {
    const ce = composedCrossEntropy(labels, logits);
    const logP = soft && ('logProbs' in soft ? soft.logProbs : (tf.logSoftmax(tf.div(soft.teacherLogits, weights.temperature)) as tf.Tensor2D));
    const kd = logP ? klFromLogProbs(logP, logits, weights.temperature) : tf.scalar(0);
    const loss = tf.add(tf.mul(ce, weights.ceWeight), tf.mul(kd, weights.kdWeight)) as tf.Scalar;
    return { loss, ce, kd, correct: correctOf(logits, labels) };
  });
}

/** How many rows' largest logit is their label's. */
export function correctOf(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
}

/** crossEntropy from stock ops: where the loss head is not a kernel of the backend, and as its reference. */
export function composedCrossEntropy(labels: tf.Tensor1D, logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(labels, logits.shape[1]!)), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/** KL(p ‖ softmax(student/T)) for soft targets given as log-probabilities log p, batch mean. */
export function klFromLogProbs(logP: tf.Tensor2D, studentLogits: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(tf.div(studentLogits, temperature));
    return tf.mean(tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1)) as tf.Scalar;
  });
}

/**
 * Soft targets of several teachers, as log-probabilities: log Σ_k w_k·softmax(t_k/T) with the
 * weights normalised to sum to 1, computed as a log-sum-exp so no probability underflows. One
 * teacher gives exactly logSoftmax(t/T).
 */
export function ensembleLogProbs(teacherLogits: readonly tf.Tensor2D[], weights: readonly number[], temperature: number): tf.Tensor2D {
  return tf.tidy((): tf.Tensor2D => {
    if (teacherLogits.length === 1) return tf.logSoftmax(tf.div(teacherLogits[0]!, temperature)) as tf.Tensor2D;
    const total = weights.reduce((a, b) => a + b, 0);
    const terms = teacherLogits.flatMap((t, k) => (weights[k]! > 0 ? [tf.add(tf.logSoftmax(tf.div(t, temperature)), Math.log(weights[k]! / total))] : []));
    return tf.logSumExp(tf.stack(terms), 0) as tf.Tensor2D;
  });
}

export function distillationLoss(
  labels: tf.Tensor1D,
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
  alpha: number,
): DistillationTerms {
  const head = studentHead(labels, studentLogits, { teacherLogits }, { temperature, ceWeight: 1 - alpha, kdWeight: alpha * temperature * temperature });
  head.correct.dispose();
  return { loss: head.loss, ce: head.ce, kd: head.kd };
}
