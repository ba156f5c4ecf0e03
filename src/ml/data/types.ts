/** A dataset in memory: flat float32 samples and integer labels, before and after splitting. */

export interface Samples {
  /** count × prod(shape) values, row-major. */
  x: Float32Array;
  /** count labels in 0..classes-1. */
  y: Int32Array;
}

/** What a source yields: a training set and, when the source defines one, its own test set. */
export interface Dataset {
  /** Shape of one sample, e.g. [28,28,1] or [32]. */
  shape: number[];
  /** Name of each class, indexed by label. */
  classNames: string[];
  train: Samples;
  test?: Samples;
}

/** A dataset split three ways, deterministically by seed, ready for training. */
export interface SplitDataset {
  shape: number[];
  classNames: string[];
  train: Samples;
  validation: Samples;
  test: Samples;
}

export const sampleSize = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
export const countOf = (s: Samples) => s.y.length;
