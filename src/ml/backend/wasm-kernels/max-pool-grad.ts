import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { input, type KernelArgs } from './compose.js';

/**
 * Correctness fix. The stock wasm MaxPoolGrad (4.22) starts each window's running maximum at
 * `std::numeric_limits<float>::min()` (the smallest *positive* float, not the lowest), so a window
 * whose values are all <= 0 never records its maximum and its gradient is lost: any CNN that pools
 * negative activations (conv or batch norm before the pool) trains on wrong gradients. This is the
 * cpu backend's algorithm (first maximum wins, padding ignored) run over the wasm heap.
 */
function maxPoolGrad(params: unknown): TensorInfo {
  const args = params as KernelArgs;
  const dy = input(args, 'dy');
  const x = input(args, 'input');
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const out = args.backend.makeOutput(x.shape, 'float32');
  // Views after makeOutput: growing the wasm heap detaches earlier views.
  const dx = args.backend.typedArrayFromHeap(out) as Float32Array;
  const xs = args.backend.typedArrayFromHeap(x) as Float32Array;
  const dys = args.backend.typedArrayFromHeap(dy) as Float32Array;
  dx.fill(0);
  const { batchSize, inHeight, inWidth, inChannels: ch, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  // Channels innermost: NHWC keeps them contiguous, so each window position is one linear sweep.
  const bestValue = new Float32Array(ch);
  const bestIndex = new Int32Array(ch);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const xBatch = b * inHeight * inWidth * ch;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = Math.max(0, oy * strideHeight - top);
      const y1 = Math.min(inHeight, oy * strideHeight - top + fh);
      for (let ox = 0; ox < outWidth; ox++, o += ch) {
        const x0 = Math.max(0, ox * strideWidth - left);
        const x1 = Math.min(inWidth, ox * strideWidth - left + fw);
        bestValue.fill(-Infinity);
        bestIndex.fill(-1);
        for (let yy = y0; yy < y1; yy++) {
          for (let xx = x0; xx < x1; xx++) {
            const base = xBatch + (yy * inWidth + xx) * ch;
            for (let c = 0; c < ch; c++) {
              const v = xs[base + c]!;
              if (v > bestValue[c]!) {
                bestValue[c] = v;
                bestIndex[c] = base + c;
              }
            }
          }
        }
        for (let c = 0; c < ch; c++) {
          const i = bestIndex[c]!;
          if (i >= 0) dx[i] = dx[i]! + dys[o + c]!;
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelConfig['kernelFunc'],
};
