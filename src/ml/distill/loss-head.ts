/**
 * The loss head in two kernels: cross-entropy on the hard labels and, given soft targets as
 * log-probabilities log p, KL(p ‖ softmax(s/T)), both batch means, and their weighted sum
 *   loss = w_ce·CE + w_kd·KL
 * in one kernel (`DistillLossHead`); its gradient with respect to the logits in another. Composed of
 * tfjs ops (loss.ts) the same head is about 25 kernel launches forward and 40 backward over a
 * [batch, classes] tensor; on wasm each launch costs more than its arithmetic, and the head took about
 * a third of an 800-wide student's training step (bench/RESULTS.md). The formulas are loss.ts's, with
 * each row's sums in float64.
 *
 * Registered for wasm and cpu, whose tensors are readable in place; elsewhere (tensorflow) loss.ts
 * composes the head from stock ops. Gradients flow to the logits only: labels and soft targets are
 * data, never trained.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataId, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

export const LOSS_HEAD_KERNEL = 'DistillLossHead';
/** The head without soft targets: the same kernel, its own name, since tfjs saves a kernel's inputs by name. */
export const CE_HEAD_KERNEL = 'DistillCrossEntropyHead';
export const LOSS_HEAD_GRAD_KERNEL = 'DistillLossHeadGrad';
const BACKENDS = ['wasm', 'cpu'] as const;

export interface HeadWeights {
  temperature: number;
  /** w_ce */
  ceWeight: number;
  /** w_kd (α·T² in Hinton's loss); 0 without soft targets. */
  kdWeight: number;
}

// A type, not an interface: tf.tidy returns it (tfjs' TensorContainer needs an index signature).
export type HeadValue = {
  loss: tf.Scalar;
  ce: tf.Scalar;
  kd: tf.Scalar;
};

interface HeadBackend {
  readSync(dataId: DataId): ArrayLike<number>;
  /** wasm: a view of the heap, no copy */
  typedArrayFromHeap?(t: TensorInfo): ArrayLike<number>;
  /** cpu */
  makeTensorInfo?(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
  /** wasm */
  makeOutput?(shape: number[], dtype: 'float32', memoryOffset: undefined, values: Float32Array): TensorInfo;
}

// Views of the wasm heap are read before any output is made: allocating may grow the heap, which detaches them.
const read = (backend: HeadBackend, t: TensorInfo): ArrayLike<number> =>
  backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : backend.readSync(t.dataId);
const output = (backend: HeadBackend, shape: number[], values: Float32Array): TensorInfo =>
  backend.makeTensorInfo ? backend.makeTensorInfo(shape, 'float32', values) : backend.makeOutput!(shape, 'float32', undefined, values);

interface HeadInputs {
  logits: TensorInfo;
  labels: TensorInfo;
  logP?: TensorInfo;
}

/**
 * One pass over the rows. Per row: CE = logsumexp(s) − s_y and KL = Σ p·(log p − log q), with
 * log q = s/T − logsumexp(s/T); and the gradients of their batch means, which the backward pass only
 * combines: ∂CE/∂s = (softmax(s) − onehot(y))/B, ∂KL/∂s = (q − p)/(T·B).
 */
function pass(s: ArrayLike<number>, y: ArrayLike<number>, logP: ArrayLike<number> | undefined, rows: number, classes: number, T: number) {
  const gCe = new Float32Array(rows * classes);
  const gKd = logP ? new Float32Array(rows * classes) : undefined;
  const e = new Float64Array(classes);
  let ceSum = 0;
  let kdSum = 0;
  for (let r = 0; r < rows; r++) {
    const at = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, s[at + c]!);
    let sumExp = 0;
    for (let c = 0; c < classes; c++) sumExp += e[c] = Math.exp(s[at + c]! - max);
    const label = y[r]!;
    ceSum += max + Math.log(sumExp) - s[at + label]!;
    for (let c = 0; c < classes; c++) gCe[at + c] = (e[c]! / sumExp - (c === label ? 1 : 0)) / rows;
    if (!logP || !gKd) continue;
    let sumExpT = 0;
    for (let c = 0; c < classes; c++) sumExpT += e[c] = Math.exp((s[at + c]! - max) / T);
    const logZt = Math.log(sumExpT);
    for (let c = 0; c < classes; c++) {
      const lp = logP[at + c]!;
      const p = Math.exp(lp);
      // A class the targets give no probability adds nothing (0·log 0 = 0).
      if (p > 0) kdSum += p * (lp - ((s[at + c]! - max) / T - logZt));
      gKd[at + c] = (e[c]! / sumExpT - p) / (T * rows);
    }
  }
  return { ce: ceSum / rows, kd: logP ? kdSum / rows : 0, gCe, gKd };
}

/** Outputs: loss, ce, kd, then ∂ce/∂logits and (with soft targets) ∂kd/∂logits, kept for the backward pass. */
function headKernel(kernelName: string, backendName: string): KernelConfig {
  const kernelFunc = ({ inputs, attrs, backend }: { inputs: unknown; attrs: NamedAttrMap; backend: unknown }): TensorInfo[] => {
    const b = backend as HeadBackend;
    const w = attrs as unknown as HeadWeights;
    const { logits, labels, logP } = inputs as HeadInputs;
    const [rows, classes] = logits.shape as [number, number];
    const r = pass(read(b, logits), read(b, labels), logP && read(b, logP), rows, classes, w.temperature);
    const loss = w.ceWeight * r.ce + w.kdWeight * r.kd;
    const scalars = [loss, r.ce, r.kd].map((v) => output(b, [], Float32Array.of(v)));
    return [...scalars, ...[r.gCe, r.gKd].flatMap((g) => (g ? [output(b, [rows, classes], g)] : []))];
  };
  return { kernelName, backendName, kernelFunc: kernelFunc as unknown as KernelFunc };
}

/** a·gCe + b·gKd: the logits' gradient from the saved per-term gradients and the outputs' upstream gradients. */
function gradKernel(backendName: string): KernelConfig {
  const kernelFunc = ({ inputs, attrs, backend }: { inputs: unknown; attrs: NamedAttrMap; backend: unknown }): TensorInfo => {
    const b = backend as HeadBackend;
    const { gCe, gKd } = inputs as { gCe: TensorInfo; gKd?: TensorInfo };
    const { ceScale, kdScale } = attrs as unknown as { ceScale: number; kdScale: number };
    const hard = read(b, gCe);
    const soft = gKd && read(b, gKd);
    const out = new Float32Array(hard.length);
    for (let i = 0; i < out.length; i++) out[i] = ceScale * hard[i]! + (soft ? kdScale * soft[i]! : 0);
    return output(b, [...gCe.shape], out);
  };
  return { kernelName: LOSS_HEAD_GRAD_KERNEL, backendName, kernelFunc: kernelFunc as unknown as KernelFunc };
}

let registered = false;

function register(): void {
  for (const backend of BACKENDS) {
    tf.registerKernel(headKernel(LOSS_HEAD_KERNEL, backend));
    tf.registerKernel(headKernel(CE_HEAD_KERNEL, backend));
    tf.registerKernel(gradKernel(backend));
  }
  for (const [kernelName, outputsToSave] of [
    [LOSS_HEAD_KERNEL, [false, false, false, true, true]],
    [CE_HEAD_KERNEL, [false, false, false, true]],
  ] as const) {
    tf.registerGradient({
      kernelName,
      outputsToSave: [...outputsToSave],
      gradFunc: (dy, saved, attrs) => {
        const [gCe, gKd] = saved as [tf.Tensor2D, tf.Tensor2D | undefined];
        // Upstream gradients of loss, ce and kd; null for an output the loss does not depend on. Scalars
        // read here (wasm and cpu hold them in memory) so the backward pass is one kernel.
        const [dLoss, dCe, dKd] = (dy as Array<tf.Tensor | null>).slice(0, 3).map((d) => (d ? d.dataSync()[0]! : 0)) as [number, number, number];
        const w = attrs as unknown as HeadWeights;
        const scales = { ceScale: dLoss * w.ceWeight + dCe, kdScale: dLoss * w.kdWeight + dKd };
        const inputs = gKd ? { gCe, gKd } : { gCe };
        return { logits: () => tf.engine().runKernel(LOSS_HEAD_GRAD_KERNEL, inputs as never, scales as unknown as NamedAttrMap) as tf.Tensor };
      },
    });
  }
  registered = true;
}

/** Whether the current backend runs the head as one kernel. */
export function fusedHeadAvailable(): boolean {
  return (BACKENDS as readonly string[]).includes(tf.getBackend());
}

/**
 * loss = w_ce·CE(labels, logits) + w_kd·KL(exp(logP) ‖ softmax(logits/T)), with CE and KL (batch
 * means) beside it; without `logP`, KL is 0. Only where `fusedHeadAvailable()`.
 */
export function lossHead(labels: tf.Tensor1D, logits: tf.Tensor2D, logP: tf.Tensor2D | undefined, weights: HeadWeights): HeadValue {
  if (!registered) register();
  const inputs = { logits, labels: labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32'), ...(logP ? { logP } : {}) };
  const [loss, ce, kd, ...gradients] = tf
    .engine()
    .runKernel(logP ? LOSS_HEAD_KERNEL : CE_HEAD_KERNEL, inputs as never, weights as unknown as NamedAttrMap) as tf.Tensor[];
  // The per-term gradients are the backward pass's (saved by the engine); the caller sees three scalars.
  tf.dispose(gradients);
  return { loss: loss as tf.Scalar, ce: ce as tf.Scalar, kd: kd as tf.Scalar };
}
