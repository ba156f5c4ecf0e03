import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../blas/addon.js';
import { blasBatchMatMul, blasFusedMatMul } from '../blas/matmul.js';
import { stockKernel } from './compose.js';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from './conv-grads.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-grads.js';
import { batchMatMulConfig, fusedMatMulConfig } from './matmul.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { unsortedSegmentSumConfig } from './segment-sum.js';
import { sliceConfig } from './slice.js';
import { tileConfig } from './tile.js';

/** Kernels tfjs-backend-wasm 4.22 lacks, without which conv, depthwise and embedding layers cannot train. */
const MISSING: readonly KernelConfig[] = [conv2DBackpropFilterConfig, depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig, unsortedSegmentSumConfig];

/** Stock kernels that compute wrong results, replaced whatever the fast-path setting. */
const FIXES: readonly KernelConfig[] = [maxPoolGradConfig];

/** Stock kernels replaced by compositions of fast (XNNPACK) ones. */
const FAST_PATHS: readonly KernelConfig[] = [batchMatMulConfig, fusedMatMulConfig, tileConfig, conv2DBackpropInputConfig, sliceConfig];

export const WASM_ADDED_KERNELS = MISSING.map((k) => k.kernelName);
export const WASM_FIXED_KERNELS = FIXES.map((k) => k.kernelName);
export const WASM_FAST_PATH_KERNELS = FAST_PATHS.map((k) => k.kernelName);

let mode: 'stock' | 'fast' | 'blas' = 'stock';
let blasAddonOn: BlasAddon | null = null;
let fixed = false;

/**
 * Registers the missing kernels (only where the installed backend still lacks them), replaces the
 * broken ones, and turns the
 * fast paths on or off. Idempotent; call after the wasm backend is registered. Turning fast paths
 * off restores the stock kernels (the benchmark compares both in one process).
 */
export function registerWasmKernels(
  fastPaths = true,
  blas: BlasAddon | null = null,
): { added: string[]; fixed: string[]; fastPaths: string[]; blas: string[] } {
  // Capture the stock kernels before replacing any, so compositions never call themselves.
  for (const k of FAST_PATHS) stockKernel(k.kernelName);
  const added: string[] = [];
  for (const k of MISSING) {
    const existing = tf.getKernel(k.kernelName, 'wasm');
    if (!existing) tf.registerKernel(k);
    if (!existing || existing.kernelFunc === k.kernelFunc) added.push(k.kernelName);
  }
  if (!fixed) {
    for (const k of FIXES) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(k);
    }
    fixed = true;
  }
  // The native matmuls fall back to the fast compositions for what they do not cover: they come with them.
  const want = blas ? 'blas' : fastPaths ? 'fast' : 'stock';
  if (want !== mode || blas !== blasAddonOn) {
    const native = blas ? new Map([blasBatchMatMul(blas), blasFusedMatMul(blas)].map((k) => [k.kernelName, k])) : new Map<string, KernelConfig>();
    for (const k of FAST_PATHS) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(native.get(k.kernelName) ?? (want === 'stock' ? stockKernel(k.kernelName) : k));
    }
    mode = want;
    blasAddonOn = blas;
  }
  const fast = mode === 'stock' ? [] : WASM_FAST_PATH_KERNELS.filter((k) => mode !== 'blas' || !WASM_BLAS_KERNELS.includes(k));
  return { added, fixed: [...WASM_FIXED_KERNELS], fastPaths: fast, blas: mode === 'blas' ? [...WASM_BLAS_KERNELS] : [] };
}

/** Kernels the native path (wasm-blas) serves through OpenBLAS. */
export const WASM_BLAS_KERNELS: readonly string[] = ['BatchMatMul', '_FusedMatMul'];
