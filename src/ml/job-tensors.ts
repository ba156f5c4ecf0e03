/**
 * What a job's setup hands its stages: the splits as tensors, a built model, and the owner that disposes
 * all of them once (in a module of their own so given teachers of other formats can name them).
 */
import type * as tf from '@tensorflow/tfjs';
import type { GivenModelFacts } from './onnx/teacher-checks.js';

export interface SplitTensors {
  train: tf.Tensor;
  validation: tf.Tensor;
  test: tf.Tensor;
}

/** Tensors a job owns; disposed once, whatever happened. */
export class TensorOwner {
  private readonly owned = new Set<{ dispose(): void }>();
  own<T extends { dispose(): void }>(t: T): T {
    this.owned.add(t);
    return t;
  }
  ownModel<T extends { model: tf.LayersModel }>(built: T): T {
    this.own(built.model);
    return built;
  }
  disposeAll(): void {
    for (const t of this.owned) t.dispose();
    this.owned.clear();
  }
}

export interface BuiltModel {
  model: tf.LayersModel;
  inputShape: number[];
  /** Forward multiply-adds per sample (estimated from parameters for a given model). */
  macs: number;
  /** A model run outside tfjs (ONNX): what the report says of it instead of the stand-in's figures. */
  given?: GivenModelFacts;
}
