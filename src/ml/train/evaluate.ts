/** Accuracy and loss of a model on a labelled set, batched, outside any gradient tape. */
import * as tf from '@tensorflow/tfjs';
import { hardLabelHead } from '../distill/loss.js';
import { predictLogits } from '../models/build.js';

export interface LogitsEvaluation {
  loss: number;
  accuracy: number;
}

export async function evaluateLogits(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor1D): Promise<LogitsEvaluation> {
  const logits = await predictLogits(model, x);
  try {
    return scoreLogits(logits, y);
  } finally {
    logits.dispose();
  }
}

export function scoreLogits(logits: tf.Tensor2D, y: tf.Tensor1D): LogitsEvaluation {
  const [loss, correct] = tf.tidy(() => {
    const head = hardLabelHead(y, logits);
    return [head.ce, head.correct];
  });
  const out = { loss: loss.dataSync()[0]!, accuracy: correct.dataSync()[0]! / Math.max(1, y.shape[0]) };
  loss.dispose();
  correct.dispose();
  return out;
}
