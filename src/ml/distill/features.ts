/**
 * Knowledge in hidden layers, as loss terms:
 * - hints (Romero et al. 2015, FitNets): mean squared error between a projection of a student layer
 *   and a teacher layer;
 * - attention transfer (Zagoruyko & Komodakis 2017): the spatial attention map of a feature map
 *   [h,w,c] is Σ_c A², flattened and L2-normalised; the term is ‖a_s − a_t‖₂ per sample, averaged
 *   over the batch (the paper's p = 2 form).
 */
import * as tf from '@tensorflow/tfjs';

// Keeps sqrt differentiable at 0 (an all-zero map, or a student that matches exactly): √(x+ε) with
// ε = 1e-12 shifts any realistic norm by far less than float32 resolution.
const EPS = 1e-12;

/** Σ_c A² per position: [B,h,w,c] → [B,h,w] (unnormalised). */
export function attentionEnergy(features: tf.Tensor4D): tf.Tensor3D {
  return tf.sum(tf.square(features), 3);
}

/** Flattens and L2-normalises maps [B,h,w] → [B,h·w]. */
export function normaliseMaps(maps: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const flat = tf.reshape(maps, [maps.shape[0], -1]) as tf.Tensor2D;
    return tf.div(flat, tf.sqrt(tf.add(tf.sum(tf.square(flat), 1, true), EPS)));
  });
}

/**
 * The normalised attention map of feature maps [B,h,w,c], at spatial size `size` when given: the
 * unnormalised map is resized bilinearly with half-pixel centres (halving is then an exact 2×2
 * mean), and normalised afterwards.
 */
export function attentionMap(features: tf.Tensor4D, size?: readonly [number, number]): tf.Tensor2D {
  return tf.tidy(() => {
    let energy = attentionEnergy(features);
    const [h, w] = [features.shape[1], features.shape[2]];
    if (size && (size[0] !== h || size[1] !== w)) {
      const resized = tf.image.resizeBilinear(tf.expandDims(energy, 3) as tf.Tensor4D, [size[0], size[1]], false, true);
      energy = tf.squeeze(resized, [3]) as tf.Tensor3D;
    }
    return normaliseMaps(energy);
  });
}

/** Batch mean of ‖a_s − a_t‖₂ between normalised maps [B,n]. */
export function attentionLoss(studentMaps: tf.Tensor2D, teacherMaps: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(studentMaps, teacherMaps)), 1), EPS))) as tf.Scalar);
}

/** Mean over every element of (projected student − teacher)². */
export function hintLoss(projected: tf.Tensor, teacher: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(projected, teacher)) as tf.Scalar);
}
