import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { stockKernel } from '../wasm-kernels/compose.js';
import { batchMatMulConfig, fusedMatMulConfig } from '../wasm-kernels/matmul.js';
import type { BlasAddon } from './addon.js';
import { heapOf, offsetOf, type WasmInternals } from './heap.js';

/**
 * BatchMatMul and _FusedMatMul on the wasm backend through OpenBLAS's cblas_sgemm, in place on the wasm
 * heap: the operands are read where tfjs keeps them and the result is written into a tensor allocated
 * by the backend, so every other kernel stays as it is. Transposes are sgemm flags (no copies). What the
 * addon does not cover (other dtypes, batch broadcasts beyond "equal or one", fused activations other
 * than relu, biases that are not one value per column) falls back to the pure-wasm kernels, or is
 * finished by stock kernels on the native product.
 */

interface MatMulArgs {
  inputs: { a?: TensorInfo; b?: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  attrs: NamedAttrMap;
  backend: WasmInternals;
}

interface Plan {
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** Sizes for sgemm, or undefined when the addon cannot take these operands as they are. */
function plan(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): Plan | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [a1, a0] : [a0, a1];
  const [kb, n] = transposeB ? [b1, b0] : [b0, b1];
  if (k !== kb || m === 0 || n === 0 || k === 0) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  // Equal outer shapes, or one side a single matrix: anything else is left to the stock broadcast.
  const rank = Math.max(outerA.length, outerB.length);
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const sameOuter = pad(outerA).join() === pad(outerB).join();
  if (!sameOuter && batchA !== 1 && batchB !== 1) return undefined;
  const outer = sameOuter ? pad(outerA) : batchA === 1 ? pad(outerB) : pad(outerA);
  return {
    batch: Math.max(batchA, batchB),
    m,
    n,
    k,
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
    outShape: [...outer, m, n],
  };
}

function flags(attrs: NamedAttrMap): [boolean, boolean] {
  return [Boolean(attrs.transposeA), Boolean(attrs.transposeB)];
}

function run(
  addon: BlasAddon,
  backend: WasmInternals,
  a: TensorInfo,
  b: TensorInfo,
  p: Plan,
  ta: boolean,
  tb: boolean,
  bias?: TensorInfo,
  relu = false,
): TensorInfo {
  const out = backend.makeOutput(p.outShape, 'float32');
  try {
    const biasOff = bias ? offsetOf(backend, bias) : -1;
    // The heap only after makeOutput: allocating may have grown (and so replaced) it.
    addon.sgemm(
      heapOf(backend),
      p.batch,
      ta,
      tb,
      p.m,
      p.n,
      p.k,
      offsetOf(backend, a),
      offsetOf(backend, b),
      offsetOf(backend, out),
      p.strideA,
      p.strideB,
      biasOff,
      bias ? size(bias.shape) : 0,
      relu,
    );
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  }
  return out;
}

export function blasBatchMatMul(addon: BlasAddon): KernelConfig {
  const fallback = batchMatMulConfig.kernelFunc;
  const kernelFunc = (params: unknown): TensorInfo => {
    const { inputs, attrs, backend } = params as MatMulArgs;
    const [ta, tb] = flags(attrs);
    const p = inputs.a && inputs.b ? plan(inputs.a, inputs.b, ta, tb) : undefined;
    if (!p) return fallback(params as never) as TensorInfo;
    return run(addon, backend, inputs.a!, inputs.b!, p, ta, tb);
  };
  return { kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

/** Stock kernels that finish a fused activation the addon does not apply itself. */
function activationKernel(activation: string, attrs: NamedAttrMap): { name: string; attrs: NamedAttrMap } | undefined {
  switch (activation) {
    case 'linear':
      return undefined;
    case 'relu':
      return { name: 'Relu', attrs: {} };
    case 'relu6':
      return { name: 'Relu6', attrs: {} };
    case 'elu':
      return { name: 'Elu', attrs: {} };
    case 'sigmoid':
      return { name: 'Sigmoid', attrs: {} };
    case 'leakyrelu':
      return { name: 'LeakyRelu', attrs: { alpha: attrs.leakyreluAlpha ?? 0.2 } };
    default:
      throw new Error(`_FusedMatMul: unknown activation '${activation}'`);
  }
}

export function blasFusedMatMul(addon: BlasAddon): KernelConfig {
  const fallback = fusedMatMulConfig.kernelFunc;
  const kernelFunc = (params: unknown): TensorInfo => {
    const { inputs, attrs, backend } = params as MatMulArgs;
    const [ta, tb] = flags(attrs);
    const { a, b, bias, preluActivationWeights: prelu } = inputs;
    const p = a && b ? plan(a, b, ta, tb) : undefined;
    const activation = String(attrs.activation ?? 'linear');
    if (!p || (bias && bias.dtype !== 'float32')) return fallback(params as never) as TensorInfo;
    // One bias value per column (or a single value) and relu are applied by the addon as it writes.
    const simpleBias = !bias || size(bias.shape) === 1 || (bias.shape[bias.shape.length - 1] === p.n && size(bias.shape) === p.n);
    if (simpleBias && (activation === 'linear' || activation === 'relu')) return run(addon, backend, a!, b!, p, ta, tb, bias, activation === 'relu');
    // Otherwise: the native product, then the stock broadcast add and activation.
    const temps: TensorInfo[] = [];
    const stock = (name: string, ins: Record<string, TensorInfo>, at: NamedAttrMap = {}) => {
      const out = stockKernel(name).kernelFunc({ inputs: ins, attrs: at, backend } as never) as TensorInfo;
      temps.push(out);
      return out;
    };
    try {
      let out = run(addon, backend, a!, b!, p, ta, tb);
      temps.push(out);
      if (bias) out = stock('Add', { a: out, b: bias });
      if (activation === 'prelu') {
        if (!prelu) throw new Error('_FusedMatMul: prelu needs preluActivationWeights');
        out = stock('Prelu', { x: out, alpha: prelu });
      } else {
        const act = activationKernel(activation, attrs);
        if (act) out = stock(act.name, { x: out }, act.attrs);
      }
      for (const t of temps) if (t !== out) backend.disposeData(t.dataId);
      return out;
    } catch (err) {
      for (const t of temps) backend.disposeData(t.dataId);
      throw err;
    }
  };
  return { kernelName: '_FusedMatMul', backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}
