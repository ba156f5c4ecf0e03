/**
 * Each model reads inputs at its own resolution (a 16×16 student beside a 28×28 teacher). The
 * conversion is done once per split and model, never per batch.
 */
import * as tf from '@tensorflow/tfjs';
import { asImageShape } from '../models/presets.js';

export type AdaptPlan =
  | { kind: 'same' }
  | { kind: 'reshape' }
  | { kind: 'resize'; from: [number, number, number]; to: [number, number, number] };

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

/** A new tensor [N, ...to] from x [N, ...from]; bilinear resize for images (in chunks, to bound memory). */
export function adaptInputs(x: tf.Tensor, to: readonly number[]): tf.Tensor {
  const from = x.shape.slice(1);
  const plan = planAdapt(from, to);
  if (!plan) throw new Error(`cannot adapt inputs [${from}] to [${to}]`);
  const n = x.shape[0]!;
  if (n === 0) return tf.zeros([0, ...to]);
  if (plan.kind !== 'resize') return tf.tidy(() => x.reshape([n, ...to]).clone());
  const chunk = 2048;
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += chunk) {
    parts.push(
      tf.tidy(() => {
        const images = x.slice(start, Math.min(chunk, n - start)).reshape([-1, ...plan.from]) as tf.Tensor4D;
        // alignCorners keeps the border pixels in place, as a downscaled digit should.
        return tf.image.resizeBilinear(images, [plan.to[0], plan.to[1]], true).reshape([-1, ...to]);
      }),
    );
  }
  const out = parts.length === 1 ? parts[0]! : tf.concat(parts);
  if (parts.length > 1) parts.forEach((p) => p.dispose());
  return out;
}
