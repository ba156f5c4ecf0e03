import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { input, type KernelArgs } from './compose.js';

/**
 * UnsortedSegmentSum, missing in tfjs-backend-wasm 4.22: it is the gradient of a gather, so
 * embedding layers cannot train on wasm without it. A scatter-add is memory-bound and O(size of x),
 * so a plain loop over the wasm heap is as fast as a composition (a one-hot matmul would need a
 * [rows x numSegments] matrix: 256 MB for a 10,000-word vocabulary and 6,400 tokens).
 * Ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
function unsortedSegmentSum(params: unknown): TensorInfo {
  const args = params as KernelArgs;
  const x = input(args, 'x');
  const ids = input(args, 'segmentIds');
  const numSegments = args.attrs.numSegments as number;
  const inner = x.shape.slice(ids.shape.length);
  const rowSize = inner.reduce((a, b) => a * b, 1);
  const out = args.backend.makeOutput([numSegments, ...inner], x.dtype);
  // Views after makeOutput: growing the wasm heap detaches earlier views.
  const outVals = args.backend.typedArrayFromHeap(out);
  const xVals = args.backend.typedArrayFromHeap(x);
  const idVals = args.backend.typedArrayFromHeap(ids);
  outVals.fill(0);
  for (let i = 0; i < idVals.length; i++) {
    const s = idVals[i] ?? -1;
    if (s < 0 || s >= numSegments) continue;
    const src = i * rowSize;
    const dst = s * rowSize;
    for (let j = 0; j < rowSize; j++) outVals[dst + j] = (outVals[dst + j] ?? 0) + (xVals[src + j] ?? 0);
  }
  return out;
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as KernelConfig['kernelFunc'],
};
