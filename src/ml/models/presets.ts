/**
 * Preset architectures as plain layer lists, so presets and explicit lists go through one builder,
 * one shape check and one serializer.
 */
import type { LayerSpec, ModelSpec, PresetName } from '../spec.js';

const CNN_PRESETS: readonly PresetName[] = ['cnn-teacher', 'cnn-student'];

/** The input shape a model reads: its own, else the dataset's (a CNN preset reads a flat square vector as an image). */
export function modelInputShape(model: ModelSpec, datasetShape: readonly number[] | undefined): number[] | undefined {
  if (model.input_shape) return [...model.input_shape];
  if (!datasetShape) return undefined;
  if ('preset' in model && CNN_PRESETS.includes(model.preset)) return asImageShape(datasetShape) ?? [...datasetShape];
  return [...datasetShape];
}

/** [h,w,c] for an image-like sample shape: rank 3 as is, rank 2 as one channel, a flat square vector as s×s×1. */
export function asImageShape(shape: readonly number[]): [number, number, number] | undefined {
  if (shape.length === 3) return [shape[0]!, shape[1]!, shape[2]!];
  if (shape.length === 2) return [shape[0]!, shape[1]!, 1];
  const side = Math.round(Math.sqrt(shape[0] ?? 0));
  return shape.length === 1 && side > 1 && side * side === shape[0] ? [side, side, 1] : undefined;
}

/** The layer list of a model spec; presets end in a dense layer of `classes` logits. */
export function modelLayers(model: ModelSpec, inputShape: readonly number[] | undefined, classes: number): LayerSpec[] {
  if ('layers' in model) return model.layers;
  const flatten: LayerSpec[] = inputShape && inputShape.length > 1 ? [{ type: 'flatten' }] : [];
  const logits: LayerSpec = { type: 'dense', units: classes };
  switch (model.preset) {
    case 'hinton-teacher':
      // Hinton, Vinyals & Dean (2015), MNIST: two hidden layers of 1200 ReLUs, dropout on inputs and hidden units.
      return [
        ...flatten,
        { type: 'dropout', rate: 0.2 },
        { type: 'dense', units: 1200, activation: 'relu' },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 1200, activation: 'relu' },
        { type: 'dropout', rate: 0.5 },
        logits,
      ];
    case 'hinton-student':
      return [...flatten, { type: 'dense', units: 800, activation: 'relu' }, { type: 'dense', units: 800, activation: 'relu' }, logits];
    case 'cnn-teacher':
      return [
        { type: 'conv2d', filters: 32, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', pool_size: 2 },
        { type: 'conv2d', filters: 64, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', pool_size: 2 },
        { type: 'flatten' },
        { type: 'dropout', rate: 0.3 },
        { type: 'dense', units: 128, activation: 'relu' },
        logits,
      ];
    case 'cnn-student':
      return [
        { type: 'conv2d', filters: 8, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', pool_size: 2 },
        { type: 'conv2d', filters: 16, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', pool_size: 2 },
        { type: 'flatten' },
        logits,
      ];
    case 'mlp-tiny':
      return [...flatten, { type: 'dense', units: 32, activation: 'relu' }, logits];
    case 'linear':
      return [...flatten, logits];
  }
}
