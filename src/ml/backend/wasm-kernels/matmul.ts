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

/**
 * a·bᵀ can also be computed as (b·aᵀ)ᵀ, and aᵀ·bᵀ as (b·a)ᵀ. Which is cheaper depends on the shapes:
 * XNNPACK packs its right operand on every call with a fresh tensor, so transposing and packing a
 * big weight matrix (the input gradient of a dense layer: dy·Wᵀ) costs more than transposing the
 * small activation and the result. Bias and activation of the fused kernel apply to the final
 * layout, so it always transposes operands in place.
 */
function viaSwappedProduct(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): boolean {
  if (transposeA && transposeB) return true;
  if (!transposeB) return false;
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.shape.length - 2]!;
  return 2 * m * k + m * n < 2 * n * k;
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
    const plain = { ...args.attrs, transposeA: false, transposeB: false };
    if (kernelName === 'BatchMatMul' && viaSwappedProduct(a, b, transposeA, transposeB)) {
      // (a·bᵀ)ᵀ = b·aᵀ and (aᵀ·bᵀ)ᵀ = b·a
      const swapped = c.run(kernelName, { a: b, b: transposeA ? a : swapLastTwo(c, a) }, plain);
      return swapLastTwo(c, swapped);
    }
    inputs.a = transposeA ? swapLastTwo(c, a) : a;
    inputs.b = transposeB ? swapLastTwo(c, b) : b;
    return c.run(kernelName, inputs, plain);
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
