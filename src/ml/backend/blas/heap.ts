import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The tfjs-backend-wasm internals the native kernels work through. They are not public API: every
 * `@tensorflow/*` package is pinned to one exact version, and `checkWasmInternals` (run when the native
 * path is activated, and by test/ml/backend/wasm-internals.test.ts) fails loudly when an upgrade moves them.
 */
export interface WasmInternals {
  dataIdMap: { get(dataId: DataId): { memoryOffset: number | null; shape: number[]; dtype: string } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  wasm: { HEAPU8: Uint8Array };
}

/** Byte offset of a tensor's data in the wasm heap. */
export function offsetOf(backend: WasmInternals, t: TensorInfo): number {
  const offset = backend.dataIdMap.get(t.dataId)?.memoryOffset;
  if (typeof offset !== 'number') throw new Error('tfjs-backend-wasm internals moved: a tensor has no memoryOffset');
  return offset;
}

/**
 * The heap as the addon takes it. Read it only after the last `makeOutput` of a kernel: allocating can
 * grow the wasm memory, which detaches views taken before.
 */
export function heapOf(backend: WasmInternals): Uint8Array {
  return backend.wasm.HEAPU8;
}

/**
 * Checks, on a live wasm backend, that the internals above are where this code expects them: a
 * tensor's memoryOffset points at its values in HEAPU8, and makeOutput allocates there. Throws naming
 * what moved.
 */
export function checkWasmInternals(backend: unknown, sample: TensorInfo, values: Float32Array): void {
  const b = backend as Partial<WasmInternals>;
  const missing = [
    typeof b.dataIdMap?.get !== 'function' && 'dataIdMap.get',
    typeof b.makeOutput !== 'function' && 'makeOutput',
    typeof b.disposeData !== 'function' && 'disposeData',
    !(b.wasm?.HEAPU8 instanceof Uint8Array) && 'wasm.HEAPU8',
  ].filter(Boolean);
  if (missing.length > 0)
    throw new Error(
      `tfjs-backend-wasm internals moved: no ${missing.join(', ')} (the native BLAS path is written against @tensorflow/tfjs-backend-wasm 4.22.0)`,
    );
  const w = b as WasmInternals;
  const offset = offsetOf(w, sample);
  const seen = new Float32Array(w.wasm.HEAPU8.buffer.slice(offset, offset + 4 * values.length));
  if (seen.some((v, i) => v !== values[i])) throw new Error("tfjs-backend-wasm internals moved: memoryOffset does not point at the tensor's values");
  const out = w.makeOutput([2], 'float32');
  try {
    if (typeof w.dataIdMap.get(out.dataId)?.memoryOffset !== 'number')
      throw new Error('tfjs-backend-wasm internals moved: makeOutput allocates no heap memory');
  } finally {
    w.disposeData(out.dataId);
  }
}
