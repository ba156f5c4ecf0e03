import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { stockKernel } from './compose.js';
import { conv2DBackpropFilterConfig, conv2DBackpropInputConfig } from './conv-grads.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-grads.js';
import { batchMatMulConfig, fusedMatMulConfig } from './matmul.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { unsortedSegmentSumConfig } from './segment-sum.js';
import { tileConfig } from './tile.js';

/** Kernels tfjs-backend-wasm 4.22 lacks, without which conv, depthwise and embedding layers cannot train. */
const MISSING: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Stock kernels that compute wrong results, replaced whatever the fast-path setting. */
const FIXES: readonly KernelConfig[] = [maxPoolGradConfig];

/** Stock kernels replaced by compositions of fast (XNNPACK) ones. */
const FAST_PATHS: readonly KernelConfig[] = [batchMatMulConfig, fusedMatMulConfig, tileConfig, conv2DBackpropInputConfig];

export const WASM_ADDED_KERNELS = MISSING.map((k) => k.kernelName);
export const WASM_FIXED_KERNELS = FIXES.map((k) => k.kernelName);
export const WASM_FAST_PATH_KERNELS = FAST_PATHS.map((k) => k.kernelName);

let fastPathsOn = false;
let fixed = false;

/**
 * Registers the missing kernels (only where the installed backend still lacks them), replaces the
 * broken ones, and turns the
 * fast paths on or off. Idempotent; call after the wasm backend is registered. Turning fast paths
 * off restores the stock kernels (the benchmark compares both in one process).
 */
export function registerWasmKernels(fastPaths = true): { added: string[]; fixed: string[]; fastPaths: string[] } {
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
  if (fastPaths !== fastPathsOn) {
    for (const k of FAST_PATHS) {
      tf.unregisterKernel(k.kernelName, 'wasm');
      tf.registerKernel(fastPaths ? k : stockKernel(k.kernelName));
    }
    fastPathsOn = fastPaths;
  }
  return { added, fixed: [...WASM_FIXED_KERNELS], fastPaths: fastPathsOn ? [...WASM_FAST_PATH_KERNELS] : [] };
}
