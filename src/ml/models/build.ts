/**
 * Layer lists → tf.LayersModel, with seeded initializers and stable layer names (so model.json and
 * weights are reproducible from the spec and the seed alone).
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../rng.js';
import type { LayerSpec } from '../spec.js';
import { layerName } from './presets.js';

const pair = (v: number | number[] | undefined, fallback: number): [number, number] =>
  v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0] ?? fallback, v[1] ?? fallback];

function makeLayer(spec: LayerSpec, name: string, seed: number, inputShape: number[] | undefined): tf.layers.Layer {
  const common = { name, ...(inputShape ? { inputShape } : {}) };
  const kernel = () => tf.initializers.glorotUniform({ seed });
  switch (spec.type) {
    case 'dense':
      return tf.layers.dense({
        ...common,
        units: spec.units,
        activation: spec.activation ?? 'linear',
        useBias: spec.use_bias ?? true,
        kernelInitializer: kernel(),
      });
    case 'conv2d':
      return tf.layers.conv2d({
        ...common,
        filters: spec.filters,
        kernelSize: pair(spec.kernel_size, 1),
        strides: pair(spec.strides, 1),
        padding: spec.padding ?? 'valid',
        activation: spec.activation ?? 'linear',
        kernelInitializer: kernel(),
      });
    case 'maxPooling2d':
    case 'averagePooling2d': {
      const poolSize = pair(spec.pool_size, 2);
      const args = { ...common, poolSize, strides: pair(spec.strides ?? spec.pool_size, 2), padding: spec.padding ?? 'valid' };
      return spec.type === 'maxPooling2d' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args);
    }
    case 'flatten':
      return tf.layers.flatten(common);
    case 'dropout':
      // The seed is replaced before every training step (see train/dropout.ts): a fixed seed would
      // draw the same mask at every step.
      return tf.layers.dropout({ ...common, rate: spec.rate, seed });
    case 'batchNormalization':
      return tf.layers.batchNormalization({ ...common, momentum: spec.momentum ?? 0.9, epsilon: spec.epsilon ?? 0.001 });
    case 'activation':
      return tf.layers.activation({ ...common, activation: spec.activation });
  }
}

/**
 * A sequential model; `role` prefixes the default layer names (see layerName) and, with `seed`, seeds every initializer.
 * `seedRole` lets the baseline start from exactly the distilled student's initial weights.
 */
export function buildModel(layers: readonly LayerSpec[], inputShape: readonly number[], role: string, seed: number, seedRole = role): tf.Sequential {
  return tf.sequential({
    name: role,
    layers: layers.map((spec, i) => makeLayer(spec, layerName(spec, i, role), deriveSeed(seed, seedRole, i), i === 0 ? [...inputShape] : undefined)),
  });
}

/** True when the model's last layer already applies softmax: its outputs are probabilities, not logits. */
export function outputsProbabilities(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  return last?.getConfig().activation === 'softmax';
}

/** The model's class logits (log-probabilities for a model that ends in softmax). */
export function logitsOf(model: tf.LayersModel, x: tf.Tensor, training: boolean, probabilities = outputsProbabilities(model)): tf.Tensor2D {
  const out = model.apply(x, { training }) as tf.Tensor2D;
  return probabilities ? tf.log(tf.clipByValue(out, 1e-7, 1)) : out;
}

export interface TappedOutputs {
  logits: tf.Tensor2D;
  /** The outputs of the tapped layers, in the order asked for. */
  taps: tf.Tensor[];
}

/**
 * A forward pass that also returns the outputs of named layers (one pass, shared weights: gradients
 * reach the model's own variables). Without taps it is exactly `logitsOf`.
 */
export function tappedForward(model: tf.LayersModel, names: readonly string[]): (x: tf.Tensor, training: boolean) => TappedOutputs {
  const probabilities = outputsProbabilities(model);
  if (names.length === 0) return (x, training) => ({ logits: logitsOf(model, x, training, probabilities), taps: [] });
  const final = model.outputs[0]!;
  const extra = [...new Set(names)].filter((n) => model.getLayer(n).output !== final);
  // A functional view over the same layers. It owns no weights and is never disposed: disposing it
  // would release the layers (and so the model's own weights) it shares.
  const view = tf.model({ inputs: model.inputs, outputs: [final, ...extra.map((n) => model.getLayer(n).output as tf.SymbolicTensor)] });
  const slot = names.map((n) => 1 + extra.indexOf(n)); // 0 (the model's output) when not in `extra`
  return (x, training) => {
    const outs = view.apply(x, { training }) as tf.Tensor[];
    const taps = slot.map((i) => outs[i]!);
    const out = outs[0] as tf.Tensor2D;
    return { logits: probabilities ? tf.log(tf.clipByValue(out, 1e-7, 1)) : out, taps };
  };
}

/** Name → output shape (per sample) of every layer of a built model. */
export function layerShapes(model: tf.LayersModel): Map<string, number[]> {
  return new Map(model.layers.map((l) => [l.name, (l.outputShape as number[]).slice(1)]));
}

/** Logits for many samples, in batches, outside any gradient tape; yields to the event loop as it goes. */
export async function predictLogits(model: tf.LayersModel, x: tf.Tensor, batchSize = 512): Promise<tf.Tensor2D> {
  const n = x.shape[0]!;
  const probabilities = outputsProbabilities(model);
  const parts: tf.Tensor2D[] = [];
  if (n === 0) return tf.zeros([0, model.outputs[0]!.shape[1] ?? 0]);
  let lastYield = performance.now();
  for (let start = 0; start < n; start += batchSize) {
    parts.push(tf.tidy(() => logitsOf(model, x.slice(start, Math.min(batchSize, n - start)), false, probabilities)));
    if (performance.now() - lastYield > 50) {
      parts[parts.length - 1]!.dataSync(); // wait for the work to finish before letting timers run
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  if (parts.length === 1) return parts[0]!;
  const all = tf.concat(parts) as tf.Tensor2D;
  parts.forEach((p) => p.dispose());
  return all;
}

/** Every dropout layer of a model (their seeds are advanced per step while training). */
export function dropoutLayers(model: tf.LayersModel): Array<{ seed?: number }> {
  return model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number }>;
}
