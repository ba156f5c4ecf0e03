import { slice_util, util, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { stockKernel, type WasmBackendLike } from './compose.js';

/**
 * The stock wasm Slice first copies its *whole* input out of the heap (`readSync`), then takes the
 * slice from the copy. Slicing chunks off a training split (soft targets, evaluation, prediction in
 * batches) therefore copied the entire split for every chunk: 60,000 × 784 floats, 188 MB, per 256
 * samples, which made computing soft targets cost more than a training epoch. A contiguous slice is
 * one copy inside the heap; everything else goes to the stock kernel.
 */
const kernelFunc = (params: unknown): TensorInfo => {
  const { inputs, attrs, backend } = params as { inputs: { x: TensorInfo }; attrs: NamedAttrMap; backend: WasmBackendLike };
  const x = inputs.x;
  const [begin, size] = slice_util.parseSliceParams(x as never, attrs.begin as number[], attrs.size as number[]) as [number[], number[]];
  if (x.dtype === 'string' || !slice_util.isSliceContinous(x.shape, begin, size)) return stockKernel('Slice').kernelFunc(params as never) as TensorInfo;
  const out = backend.makeOutput(size, x.dtype);
  const offset = slice_util.computeFlatOffset(begin, util.computeStrides(x.shape));
  // Views only after makeOutput: allocating may grow the heap, which detaches views taken before.
  const xs = backend.typedArrayFromHeap(x);
  backend.typedArrayFromHeap(out).set(xs.subarray(offset, offset + util.sizeFromShape(size)));
  return out;
};

export const sliceConfig: KernelConfig = { kernelName: 'Slice', backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
