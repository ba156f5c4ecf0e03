/** Checks a loaded dataset and splits it train / validation / test, deterministically by seed. */
import { DataError } from '../errors.js';
import { Rng, deriveSeed } from '../rng.js';
import { countOf, sampleSize, type Dataset, type Samples, type SplitDataset } from './types.js';

export interface SplitOptions {
  seed: number;
  validationFraction: number;
  /** Used only when the dataset has no test set of its own. */
  testFraction: number;
  limit?: { train?: number; test?: number };
}

export function validateDataset(ds: Dataset): void {
  const per = sampleSize(ds.shape);
  for (const [part, s] of Object.entries({ train: ds.train, test: ds.test })) {
    if (!s) continue;
    if (countOf(s) === 0) throw new DataError('empty', `the ${part} set has no samples`);
    if (s.x.length !== countOf(s) * per) {
      throw new DataError('count_mismatch', `the ${part} set has ${countOf(s)} labels but ${s.x.length / per} samples of shape [${ds.shape}]`);
    }
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]!)) {
        throw new DataError('non_finite', `${part} sample ${Math.floor(i / per)}, value ${i % per} is ${s.x[i]} (inputs must be finite numbers)`);
      }
    }
    for (const [i, label] of s.y.entries()) {
      if (label < 0 || label >= ds.classNames.length) {
        throw new DataError('count_mismatch', `${part} label ${i} is ${label}, outside the ${ds.classNames.length} classes`);
      }
    }
  }
  const seen = new Set(ds.train.y);
  if (seen.size < 2)
    throw new DataError('one_class', `the training set holds only class "${ds.classNames[ds.train.y[0] ?? 0]}": distillation needs at least two classes`);
}

function take(s: Samples, per: number, indices: ArrayLike<number>): Samples {
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i]!;
    x.set(s.x.subarray(from * per, (from + 1) * per), i * per);
    y[i] = s.y[from]!;
  }
  return { x, y };
}

export function splitDataset(ds: Dataset, o: SplitOptions): SplitDataset {
  validateDataset(ds);
  const per = sampleSize(ds.shape);
  const order = new Rng(deriveSeed(o.seed, 'split')).permutation(countOf(ds.train));
  const testCount = ds.test ? 0 : Math.max(1, Math.round(order.length * o.testFraction));
  const pool = order.subarray(testCount);
  const valCount = Math.round(pool.length * o.validationFraction);
  const trainIdx = pool.subarray(valCount, o.limit?.train !== undefined ? valCount + o.limit.train : undefined);
  let test = ds.test ?? take(ds.train, per, order.subarray(0, testCount));
  if (o.limit?.test !== undefined && o.limit.test < countOf(test))
    test = take(test, per, new Rng(deriveSeed(o.seed, 'test-limit')).permutation(countOf(test)).subarray(0, o.limit.test));
  const out: SplitDataset = {
    shape: ds.shape,
    classNames: ds.classNames,
    train: take(ds.train, per, trainIdx),
    validation: take(ds.train, per, pool.subarray(0, valCount)),
    test,
  };
  if (countOf(out.train) === 0) throw new DataError('empty', 'no training samples are left after holding out validation and test samples');
  if (new Set(out.train.y).size < 2) throw new DataError('one_class', 'the training split holds only one class: use more samples or a larger limit.train');
  return out;
}
