/**
 * Whether, and how, samples of one shape become another's: the plan only, apart from adapt.ts (which
 * carries it out with tfjs), so spec checks can ask it in a process that never loads tfjs.
 */
import { asImageShape } from '../models/presets.js';

/** `same`: nothing to do; `reshape`: as many values, laid out anew; `resize`: images of the same channels, resized. */
export type AdaptPlan = { kind: 'same' } | { kind: 'reshape' } | { kind: 'resize'; from: [number, number, number]; to: [number, number, number] };

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** How samples of shape `from` become samples of shape `to`, or undefined when they cannot. */
export function planAdapt(from: readonly number[], to: readonly number[]): AdaptPlan | undefined {
  if (from.length === to.length && from.every((d, i) => d === to[i])) return { kind: 'same' };
  if (size(from) === size(to)) return { kind: 'reshape' };
  const a = asImageShape(from);
  const b = asImageShape(to);
  if (a && b && a[2] === b[2]) return { kind: 'resize', from: a, to: b };
  return undefined;
}
