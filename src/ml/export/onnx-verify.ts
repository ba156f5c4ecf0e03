/**
 * How closely two runs of a classifier agree: the largest logit difference against the largest
 * logit, and the share of samples with the same top class. The bar every export must clear.
 */

/** max |Δ logit| ≤ RELATIVE_TOLERANCE × max |logit|. */
export const RELATIVE_TOLERANCE = 1e-4;
/** Share of samples whose argmax must agree. */
export const MIN_ARGMAX_AGREEMENT = 0.999;

export interface OutputComparison {
  maxAbsDiff: number;
  maxAbs: number;
  /** Share of rows whose argmax is the same in both. */
  argmaxAgreement: number;
  /** Both bars cleared. */
  within: boolean;
}

export function argmaxRows(values: Float32Array, classes: number): Int32Array {
  const n = classes ? values.length / classes : 0;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (values[i * classes + k]! > values[i * classes + best]!) best = k;
    out[i] = best;
  }
  return out;
}

export function compareOutputs(reference: Float32Array, other: Float32Array, classes: number): OutputComparison {
  if (reference.length !== other.length) throw new Error(`outputs differ in size: ${reference.length} vs ${other.length}`);
  let maxAbsDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < reference.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(reference[i]! - other[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(reference[i]!));
  }
  const a = argmaxRows(reference, classes);
  const b = argmaxRows(other, classes);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  const argmaxAgreement = a.length ? same / a.length : 1;
  return { maxAbsDiff, maxAbs, argmaxAgreement, within: maxAbsDiff <= RELATIVE_TOLERANCE * maxAbs && argmaxAgreement >= MIN_ARGMAX_AGREEMENT };
}
