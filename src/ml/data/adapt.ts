/**
 * Each model reads inputs at its own resolution (a 16×16 student beside a 28×28 teacher). The
 * conversion is done once per split and model, never per batch.
 */
import * as tf from '@tensorflow/tfjs';
import { planAdapt } from './adapt-plan.js';

export { type AdaptPlan, planAdapt } from './adapt-plan.js';

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
