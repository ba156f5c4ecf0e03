/**
 * Model and optimizer state as plain arrays, for checkpoints. Positional (the order of
 * model.getWeights() and of the optimizer's slots) so it does not depend on tfjs' global name counters.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResolvedTraining } from '../spec.js';
import { FusedAdamOptimizer } from './fused-adam.js';

export interface StoredTensor {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

export function makeOptimizer(t: Pick<ResolvedTraining, 'optimizer' | 'learning_rate'>): tf.Optimizer {
  switch (t.optimizer) {
    case 'sgd':
      return tf.train.sgd(t.learning_rate);
    case 'momentum':
      return tf.train.momentum(t.learning_rate, 0.9);
    case 'adam':
      // tf.train.adam's defaults (β₁ 0.9, β₂ 0.999, ε from the backend), each variable updated in one kernel.
      return new FusedAdamOptimizer(t.learning_rate, 0.9, 0.999);
  }
}

/**
 * Frees an optimizer completely. MomentumOptimizer.dispose() in tfjs 4.22 does not call
 * SGDOptimizer.dispose(), so its learning-rate scalar `c` would leak one tensor per optimizer.
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
}

function store(name: string, t: tf.Tensor): StoredTensor {
  const dtype = t.dtype === 'int32' ? 'int32' : 'float32';
  return { name, shape: [...t.shape], dtype, data: dtype === 'int32' ? Int32Array.from(t.dataSync()) : Float32Array.from(t.dataSync()) };
}

export function readModelWeights(model: tf.LayersModel): StoredTensor[] {
  return model.getWeights().map((w, i) => store(`w${i}`, w));
}

export function writeModelWeights(model: tf.LayersModel, weights: readonly StoredTensor[]): void {
  const expected = model.getWeights();
  if (expected.length !== weights.length || expected.some((w, i) => w.shape.join() !== weights[i]!.shape.join())) {
    throw new Error(`stored weights [${weights.map((w) => `[${w.shape}]`)}] do not fit model ${model.name}`);
  }
  const tensors = weights.map((w) => tf.tensor(w.data, w.shape, w.dtype));
  model.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
}

/**
 * Adam's running powers β₁ᵗ and β₂ᵗ. Training accumulates them by one float32 multiplication per
 * step, but tfjs' setWeights recomputes them as pow(β, t), which can differ in the last bit: a resumed
 * Adam would then drift from the uninterrupted run. Checkpoints carry the accumulated values.
 */
const ADAM_POWERS = ['adam/acc_beta1', 'adam/acc_beta2'] as const;
function adamPowers(optimizer: tf.Optimizer): [tf.Variable, tf.Variable] | undefined {
  const o = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return optimizer.getClassName() === 'Adam' && o.accBeta1 && o.accBeta2 ? [o.accBeta1, o.accBeta2] : undefined;
}

export async function readOptimizerState(optimizer: tf.Optimizer): Promise<StoredTensor[]> {
  const named = await optimizer.getWeights();
  const out = named.map((n) => store(n.name, n.tensor));
  // The iteration count is a fresh scalar; every other entry is the optimizer's live slot variable.
  named[0]?.tensor.dispose();
  const powers = adamPowers(optimizer);
  if (powers && out.length > 1) out.push(...powers.map((p, i) => store(ADAM_POWERS[i]!, p)));
  return out;
}

/** Restores slots into a fresh optimizer (one that has not taken a step: it owns no slots yet). */
export async function writeOptimizerState(optimizer: tf.Optimizer, state: readonly StoredTensor[]): Promise<void> {
  const isPower = (s: StoredTensor) => (ADAM_POWERS as readonly string[]).includes(s.name);
  const slots = state.filter((s) => !isPower(s));
  if (slots.length === 0) return;
  const named = slots.map((s) => ({ name: s.name, tensor: tf.tensor(s.data, s.shape, s.dtype) }));
  await optimizer.setWeights(named);
  // setWeights copies each slot into a new variable; our tensors are ours to free.
  named.forEach((n) => n.tensor.dispose());
  const powers = adamPowers(optimizer);
  const stored = state.filter(isPower);
  if (powers && stored.length === 2) powers.forEach((p, i) => tf.tidy(() => p.assign(tf.scalar(stored[i]!.data[0]!))));
}
