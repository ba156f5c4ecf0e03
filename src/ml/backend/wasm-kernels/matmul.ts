import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { type Composer, composed, input, type KernelArgs } from './compose.js';

/**
 * tfjs-backend-wasm runs a matmul through XNNPACK only when neither operand is transposed and the
 * batch is 1; otherwise it falls into a scalar single-threaded loop (~3 GFLOP/s against ~40). Every
 * backward matmul of a dense layer transposes one operand, so training spends most of its time there.
 * Transposing explicitly (a cheap copy) and calling the plain kernel takes the XNNPACK path.
 * Gradients are untouched: they are registered per kernel name, not per backend.
 */

function isSingleBatch(t: TensorInfo): boolean {
  return t.shape.slice(0, -2).every((d) => d === 1);
}

function swapLastTwo(c: Composer, t: TensorInfo): TensorInfo {
  const perm = t.shape.map((_, i) => i);
  const n = perm.length;
  perm[n - 2] = n - 1;
  perm[n - 1] = n - 2;
  return c.transpose(t, perm);
}

function untransposedMatMul(kernelName: 'BatchMatMul' | '_FusedMatMul') {
  return composed((c: Composer, args: KernelArgs): TensorInfo => {
    const a = input(args, 'a');
    const b = input(args, 'b');
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const fast = (transposeA || transposeB) && isSingleBatch(a) && isSingleBatch(b);
    const inputs: Record<string, TensorInfo> = {};
    for (const [k, v] of Object.entries(args.inputs)) if (v) inputs[k] = v;
    if (!fast) return c.run(kernelName, inputs, args.attrs);
    inputs['a'] = transposeA ? swapLastTwo(c, a) : a;
    inputs['b'] = transposeB ? swapLastTwo(c, b) : b;
    return c.run(kernelName, inputs, { ...args.attrs, transposeA: false, transposeB: false });
  });
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: untransposedMatMul('BatchMatMul'),
};

/** Same fix for the fused form (bias and activation pass through unchanged). */
export const fusedMatMulConfig: KernelConfig = {
  kernelName: '_FusedMatMul',
  backendName: 'wasm',
  kernelFunc: untransposedMatMul('_FusedMatMul'),
};
