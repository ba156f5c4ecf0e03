// The benchmarked models and training steps, written with tfjs directly (same architectures as the
// engine's presets) so the benchmark measures the backend, not the engine's bookkeeping.
import * as tf from '@tensorflow/tfjs';

export type PairName = 'mlp' | 'cnn';
export type LoopName = 'teacher' | 'cached' | 'textbook';

export const TEMPERATURE = 4;
export const ALPHA = 0.9;

const seeded = (seed: number) => tf.initializers.glorotUniform({ seed });

/** Hinton et al. (2015) MNIST pair, and the engine's small CNN pair (28x28x1 input). */
export function buildModel(pair: PairName, role: 'teacher' | 'student'): tf.Sequential {
  const layers: tf.layers.Layer[] = [];
  const dense = (units: number, activation: 'relu' | 'linear', seed: number, inputShape?: number[]) =>
    tf.layers.dense({ units, activation, kernelInitializer: seeded(seed), ...(inputShape ? { inputShape } : {}) });
  const conv = (filters: number, seed: number, inputShape?: number[]) =>
    tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(seed), ...(inputShape ? { inputShape } : {}) });
  if (pair === 'mlp' && role === 'teacher') {
    layers.push(
      tf.layers.dropout({ rate: 0.2, inputShape: [784] }),
      dense(1200, 'relu', 1),
      tf.layers.dropout({ rate: 0.5 }),
      dense(1200, 'relu', 2),
      tf.layers.dropout({ rate: 0.5 }),
      dense(10, 'linear', 3),
    );
  } else if (pair === 'mlp') {
    layers.push(dense(800, 'relu', 4, [784]), dense(800, 'relu', 5), dense(10, 'linear', 6));
  } else if (role === 'teacher') {
    layers.push(
      conv(32, 7, [28, 28, 1]),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(64, 8),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.3 }),
      dense(128, 'relu', 9),
      dense(10, 'linear', 10),
    );
  } else {
    layers.push(
      conv(8, 11, [28, 28, 1]),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(16, 12),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      dense(10, 'linear', 13),
    );
  }
  return tf.sequential({ layers });
}

/** Forward FLOPs per sample (2 per multiply-add; conv and dense only, the rest is noise). */
export function forwardFlops(model: tf.Sequential): number {
  let flops = 0;
  for (const layer of model.layers) {
    const out = layer.outputShape as number[];
    if (layer.getClassName() === 'Dense') {
      const [kernel] = layer.getWeights();
      flops += 2 * (kernel?.size ?? 0);
    } else if (layer.getClassName() === 'Conv2D') {
      const [kernel] = layer.getWeights();
      flops += 2 * (kernel?.size ?? 0) * (out[1] ?? 1) * (out[2] ?? 1);
    }
  }
  return flops;
}

/**
 * FLOPs per sample of one step of each loop, by the usual convention that a training step costs
 * 3x the forward pass (forward, input gradient, weight gradient).
 */
export function stepFlops(loop: LoopName, teacher: tf.Sequential, student: tf.Sequential): number {
  if (loop === 'teacher') return 3 * forwardFlops(teacher);
  if (loop === 'cached') return 3 * forwardFlops(student);
  return forwardFlops(teacher) + 3 * forwardFlops(student);
}

export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
  soft: tf.Tensor;
}

/** A few fixed random batches (inputs, one-hot labels, soft targets at T) kept for the whole run. */
export function makeBatches(pair: PairName, batchSize: number, teacher: tf.Sequential, count = 4): Batch[] {
  return Array.from({ length: count }, (_, i) =>
    tf.tidy(() => {
      const x = tf.randomUniform(pair === 'mlp' ? [batchSize, 784] : [batchSize, 28, 28, 1], 0, 1, 'float32', 100 + i);
      const labels = tf.randomUniform([batchSize], 0, 10, 'int32', 200 + i);
      const y = tf.oneHot(labels, 10).toFloat();
      const soft = tf.softmax(tf.div(teacher.predict(x, { batchSize }) as tf.Tensor, TEMPERATURE));
      return { x: tf.keep(x), y: tf.keep(y), soft: tf.keep(soft) };
    }),
  );
}

/**
 * Hinton loss with soft targets p = softmax(t/T) given: (1-α)·CE(y, s) + α·T²·KL(p ‖ softmax(s/T)),
 * KL averaged over the batch. The constant Σp·log p of the KL is dropped (same gradient).
 */
export function distillationLoss(studentLogits: tf.Tensor, y: tf.Tensor, soft: tf.Tensor): tf.Scalar {
  const ce = tf.losses.softmaxCrossEntropy(y, studentLogits);
  const logQ = tf.logSoftmax(tf.div(studentLogits, TEMPERATURE));
  const kd = tf.neg(tf.mean(tf.sum(tf.mul(soft, logQ), -1)));
  return tf.add(tf.mul(1 - ALPHA, ce), tf.mul(ALPHA * TEMPERATURE * TEMPERATURE, kd)) as tf.Scalar;
}

/** One optimizer step of the given loop; returns the loss tensor (caller disposes). */
export function step(loop: LoopName, teacher: tf.Sequential, student: tf.Sequential, optimizer: tf.Optimizer, batch: Batch): tf.Scalar {
  return tf.tidy(() => {
    if (loop === 'teacher') {
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(batch.y, teacher.apply(batch.x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
    }
    // Teacher logits outside the closure: everything inside `minimize` is taped for gradients.
    const soft = loop === 'cached' ? batch.soft : tf.softmax(tf.div(teacher.apply(batch.x, { training: false }) as tf.Tensor, TEMPERATURE));
    return optimizer.minimize(() => distillationLoss(student.apply(batch.x, { training: true }) as tf.Tensor, batch.y, soft), true)!;
  });
}
