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

/** The layer list of a model spec; presets end in a dense layer of `classes` logits, and name every layer. */
export function modelLayers(model: ModelSpec, inputShape: readonly number[] | undefined, classes: number): LayerSpec[] {
  if ('layers' in model) return model.layers;
  const flatten: LayerSpec[] = inputShape && inputShape.length > 1 ? [{ type: 'flatten', name: 'flatten' }] : [];
  const logits: LayerSpec = { type: 'dense', name: 'logits', units: classes };
  switch (model.preset) {
    case 'hinton-teacher':
      // Hinton, Vinyals & Dean (2015), MNIST: two hidden layers of 1200 ReLUs, dropout on inputs and hidden units.
      return [
        ...flatten,
        { type: 'dropout', name: 'input_dropout', rate: 0.2 },
        { type: 'dense', name: 'hidden1', units: 1200, activation: 'relu' },
        { type: 'dropout', name: 'dropout1', rate: 0.5 },
        { type: 'dense', name: 'hidden2', units: 1200, activation: 'relu' },
        { type: 'dropout', name: 'dropout2', rate: 0.5 },
        logits,
      ];
    case 'hinton-student':
      return [
        ...flatten,
        { type: 'dense', name: 'hidden1', units: 800, activation: 'relu' },
        { type: 'dense', name: 'hidden2', units: 800, activation: 'relu' },
        logits,
      ];
    case 'cnn-teacher':
      return [
        { type: 'conv2d', name: 'conv1', filters: 32, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', name: 'pool1', pool_size: 2 },
        { type: 'conv2d', name: 'conv2', filters: 64, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', name: 'pool2', pool_size: 2 },
        { type: 'flatten', name: 'flatten' },
        { type: 'dropout', name: 'dropout', rate: 0.3 },
        { type: 'dense', name: 'hidden', units: 128, activation: 'relu' },
        logits,
      ];
    case 'cnn-student':
      return [
        { type: 'conv2d', name: 'conv1', filters: 8, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', name: 'pool1', pool_size: 2 },
        { type: 'conv2d', name: 'conv2', filters: 16, kernel_size: 3, activation: 'relu', padding: 'same' },
        { type: 'maxPooling2d', name: 'pool2', pool_size: 2 },
        { type: 'flatten', name: 'flatten' },
        logits,
      ];
    case 'mlp-tiny':
      return [...flatten, { type: 'dense', name: 'hidden', units: 32, activation: 'relu' }, logits];
    case 'linear':
      return [...flatten, logits];
  }
}

/** The name a layer gets in the built model: its own, else <role>_<index>_<type>. */
export function layerName(layer: LayerSpec, index: number, role: string): string {
  return layer.name ?? `${role}_${index}_${layer.type}`;
}
