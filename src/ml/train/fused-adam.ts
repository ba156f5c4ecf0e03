/**
 * Adam with each variable's update in one pass. tfjs' AdamOptimizer runs about ten kernels per
 * variable per step (mul, add, square, div, sqrt, …), each a launch through the engine and a sweep
 * over memory; on the wasm backend this does the same float32 arithmetic in one kernel
 * (`DistillAdam`: the native addon where it is built, else a loop over the wasm heap), writing new
 * tensors that the slot variables then take over (tfjs assumes tensor data never changes in place).
 * Elsewhere (cpu, tensorflow) it is the stock optimizer. Slots, names and the running powers β₁ᵗ, β₂ᵗ
 * are the stock ones, so checkpoints and getWeights/setWeights are unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BlasAddon } from '../backend/blas/addon.js';
import { heapOf, offsetOf, type WasmInternals } from '../backend/blas/heap.js';

export const FUSED_ADAM_KERNEL = 'DistillAdam';

interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  epsilon: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
}

/** The same arithmetic as the addon, rounded to float32 at every step as the stock kernels round. */
function adamLoop(
  x: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  ox: Float32Array,
  om: Float32Array,
  ov: Float32Array,
  a: AdamAttrs,
): void {
  const f = Math.fround;
  const [b1, b2, d1, d2, eps, c1, c2, nlr] = [a.beta1, a.beta2, a.oneMinusBeta1, a.oneMinusBeta2, a.epsilon, a.oneMinusAccBeta1, a.oneMinusAccBeta2, -a.lr].map(
    f,
  ) as number[] as [number, number, number, number, number, number, number, number];
  for (let i = 0; i < x.length; i++) {
    const gi = g[i]!;
    const mi = f(f(b1 * m[i]!) + f(gi * d1));
    const vi = f(f(b2 * v[i]!) + f(f(gi * gi) * d2));
    const step = f(f(mi / c1) / f(Math.fround(Math.sqrt(f(vi / c2))) + eps));
    om[i] = mi;
    ov[i] = vi;
    ox[i] = f(step * nlr) + x[i]!;
  }
}

/** The wasm kernel; `addon` null: the JavaScript loop. */
export function fusedAdamKernel(addon: BlasAddon | null): KernelConfig {
  const kernelFunc = (params: unknown): TensorInfo[] => {
    const { inputs, attrs, backend } = params as {
      inputs: Record<string, TensorInfo>;
      attrs: NamedAttrMap;
      backend: WasmInternals & { typedArrayFromHeap(t: TensorInfo): Float32Array };
    };
    const { value, gradient, m, v } = inputs as { value: TensorInfo; gradient: TensorInfo; m: TensorInfo; v: TensorInfo };
    const a = attrs as unknown as AdamAttrs;
    const outs = [value, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
    const n = value.shape.reduce((p, d) => p * d, 1);
    if (addon) {
      const [ox, om, ov] = outs.map((t) => offsetOf(backend, t)) as [number, number, number];
      addon.adam(
        heapOf(backend),
        n,
        offsetOf(backend, value),
        offsetOf(backend, gradient),
        offsetOf(backend, m),
        offsetOf(backend, v),
        ox,
        om,
        ov,
        a.lr,
        a.beta1,
        a.beta2,
        a.oneMinusBeta1,
        a.oneMinusBeta2,
        a.epsilon,
        a.oneMinusAccBeta1,
        a.oneMinusAccBeta2,
      );
    } else {
      const view = (t: TensorInfo) => backend.typedArrayFromHeap(t);
      adamLoop(view(value), view(gradient), view(m), view(v), view(outs[0]!), view(outs[1]!), view(outs[2]!), a);
    }
    return outs;
  };
  return { kernelName: FUSED_ADAM_KERNEL, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

let registered: 'native' | 'js' | undefined;

/** Registers (or re-registers) the fused kernel for wasm. Returns how it computes. */
export function registerFusedAdam(addon: BlasAddon | null): 'native' | 'js' {
  const want = addon ? 'native' : 'js';
  if (registered === want) return want;
  if (registered) tf.unregisterKernel(FUSED_ADAM_KERNEL, 'wasm');
  tf.registerKernel(fusedAdamKernel(addon));
  registered = want;
  return want;
}

type Slot = { originalName: string; variable: tf.Variable };
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  incrementIterations(): void;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (tf.getBackend() !== 'wasm' || !registered) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const list = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const [acc1, acc2] = [self.accBeta1.dataSync()[0]!, self.accBeta2.dataSync()[0]!];
    const attrs: AdamAttrs = {
      lr: self.learningRate,
      beta1: self.beta1,
      beta2: self.beta2,
      oneMinusBeta1: 1 - self.beta1,
      oneMinusBeta2: 1 - self.beta2,
      epsilon: self.epsilon,
      oneMinusAccBeta1: Math.fround(1 - acc1),
      oneMinusAccBeta2: Math.fround(1 - acc2),
    };
    tf.tidy(() => {
      list.forEach(({ name, tensor: gradient }, i) => {
        const value = tf.engine().registeredVariables[name]!;
        const slot = (suffix: string): Slot => ({ originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) });
        self.accumulatedFirstMoment[i] ??= slot('m');
        self.accumulatedSecondMoment[i] ??= slot('v');
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i]!.variable;
        const v = self.accumulatedSecondMoment[i]!.variable;
        const [newValue, newM, newV] = tf.engine().runKernel(FUSED_ADAM_KERNEL, { value, gradient, m, v }, attrs as unknown as NamedAttrMap) as tf.Tensor[];
        m.assign(newM!);
        v.assign(newV!);
        value.assign(newValue!);
      });
      // β^t accumulated by one float32 multiplication per step, as the stock optimizer does.
      self.accBeta1.assign(tf.scalar(Math.fround(acc1 * Math.fround(self.beta1))));
      self.accBeta2.assign(tf.scalar(Math.fround(acc2 * Math.fround(self.beta2))));
    });
    self.incrementIterations();
  }
}
