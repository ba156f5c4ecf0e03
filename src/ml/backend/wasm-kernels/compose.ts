import * as tf from '@tensorflow/tfjs';
import type { DataId, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Helpers for writing wasm kernels out of other wasm kernels. Composed kernels work on `TensorInfo`s
 * at the backend level (as the stock backends compose theirs), not through `tf.*` ops: ops inside a
 * kernel would be tracked by the engine's scopes and counted twice.
 */

/** The part of tfjs-backend-wasm's `BackendWasm` that composed kernels use. */
export interface WasmBackendLike {
  disposeData(dataId: DataId, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export interface KernelArgs {
  inputs: Record<string, TensorInfo | undefined>;
  attrs: NamedAttrMap;
  backend: WasmBackendLike;
}

/** The stock wasm kernels, captured before any override, so composed kernels never call themselves. */
const stock = new Map<string, KernelConfig>();

export function stockKernel(name: string): KernelConfig {
  let config = stock.get(name);
  if (!config) {
    config = tf.getKernel(name, 'wasm');
    if (!config) throw new Error(`wasm backend has no '${name}' kernel to compose from`);
    stock.set(name, config);
  }
  return config;
}

/**
 * Runs one stock wasm kernel and tracks its output for disposal, so a composed kernel reads as a
 * list of calls and frees every intermediate in one place (`release`).
 */
export class Composer {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: WasmBackendLike) {}

  run(name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
    const out = stockKernel(name).kernelFunc({ inputs, attrs, backend: this.backend } as never);
    const info = Array.isArray(out) ? out[0] : out;
    if (!info) throw new Error(`kernel '${name}' returned no output`);
    this.temps.push(info);
    return info;
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /**
   * Frees every intermediate except `keep` (the kernel's result). Compared by identity, not dataId:
   * a wasm Reshape shares its input's data and adds a reference, which disposing the other drops.
   */
  release(keep: TensorInfo): TensorInfo {
    for (const t of this.temps) if (t !== keep) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
    return keep;
  }

  /** Frees everything (for error paths). */
  releaseAll(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Wraps a composed implementation so intermediates are freed whether it returns or throws. */
export function composed(impl: (c: Composer, args: KernelArgs) => TensorInfo): KernelFunc {
  const kernelFunc = (params: unknown): TensorInfo => {
    const args = params as KernelArgs;
    const c = new Composer(args.backend);
    try {
      return c.release(impl(c, args));
    } catch (err) {
      c.releaseAll();
      throw err;
    }
  };
  return kernelFunc as unknown as KernelFunc;
}

export function input(args: KernelArgs, name: string): TensorInfo {
  const t = args.inputs[name];
  if (!t) throw new Error(`missing kernel input '${name}'`);
  return t;
}

/** Explicit NHWC padding in the form `computeConv2DInfo` accepts. */
export type Pads4 = [[number, number], [number, number], [number, number], [number, number]];

export function nhwcPads(top: number, bottom: number, left: number, right: number): Pads4 {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}
