/**
 * The loss head in two kernels: cross-entropy on the hard labels and, given soft targets p (as
 * log-probabilities, or as one teacher's logits t with p = softmax(t/T)), KL(p ‖ softmax(s/T)), both
 * batch means, their weighted sum
 *   loss = w_ce·CE + w_kd·KL
 * and the count of correct predictions, in one kernel (`DistillLossHead`); the gradient with respect to
 * the logits in another. Composed of tfjs ops (loss.ts) the same head is about 25 kernel launches
 * forward and 40 backward over a [batch, classes] tensor; on wasm each launch costs more than its
 * arithmetic: about 1 ms of a 20-ms step of the 800-wide student, and one kernel made the student and
 * baseline phases 5–10% faster (bench/RESULTS.md). The formulas are loss.ts's, with each row's sums in
 * float64.
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

/** Soft targets: log-probabilities, or one teacher's logits (the kernel takes their log-softmax at T). */
export type SoftTargets = { logProbs: tf.Tensor2D } | { teacherLogits: tf.Tensor2D };

// A type, not an interface: tf.tidy returns it (tfjs' TensorContainer needs an index signature).
export type HeadValue = {
  loss: tf.Scalar;
  ce: tf.Scalar;
  kd: tf.Scalar;
  /** How many rows' largest logit is their label's (the first largest, as tf.argMax picks). */
  correct: tf.Scalar;
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
  targets?: TensorInfo;
}

type HeadAttrs = HeadWeights & { targetsAreLogits: boolean };

/**
 * One pass over the rows. Per row: CE = logsumexp(s) − s_y and KL = Σ p·(log p − log q), with
 * log q = s/T − logsumexp(s/T); and the gradients of their batch means, which the backward pass only
 * combines: ∂CE/∂s = (softmax(s) − onehot(y))/B, ∂KL/∂s = (q − p)/(T·B).
 */
function pass(s: ArrayLike<number>, y: ArrayLike<number>, targets: ArrayLike<number> | undefined, rows: number, classes: number, a: HeadAttrs) {
  const T = a.temperature;
  const gCe = new Float32Array(rows * classes);
  const gKd = targets ? new Float32Array(rows * classes) : undefined;
  const e = new Float64Array(classes);
  const logP = new Float64Array(classes);
  let ceSum = 0;
  let kdSum = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const at = r * classes;
    let max = -Infinity;
    let argMax = 0;
    for (let c = 0; c < classes; c++) if (s[at + c]! > max) (max = s[at + c]!), (argMax = c);
    let sumExp = 0;
    for (let c = 0; c < classes; c++) sumExp += e[c] = Math.exp(s[at + c]! - max);
    const label = y[r]!;
    if (argMax === label) correct++;
    ceSum += max + Math.log(sumExp) - s[at + label]!;
    for (let c = 0; c < classes; c++) gCe[at + c] = (e[c]! / sumExp - (c === label ? 1 : 0)) / rows;
    if (!targets || !gKd) continue;
    if (a.targetsAreLogits) {
      let tMax = -Infinity;
      for (let c = 0; c < classes; c++) tMax = Math.max(tMax, targets[at + c]!);
      let tSum = 0;
      for (let c = 0; c < classes; c++) tSum += Math.exp((targets[at + c]! - tMax) / T);
      const logZ = Math.log(tSum);
      for (let c = 0; c < classes; c++) logP[c] = (targets[at + c]! - tMax) / T - logZ;
    } else for (let c = 0; c < classes; c++) logP[c] = targets[at + c]!;
    let sumExpT = 0;
    for (let c = 0; c < classes; c++) sumExpT += e[c] = Math.exp((s[at + c]! - max) / T);
    const logZt = Math.log(sumExpT);
    for (let c = 0; c < classes; c++) {
      const lp = logP[c]!;
      const p = Math.exp(lp);
      // A class the targets give no probability adds nothing (0·log 0 = 0).
      if (p > 0) kdSum += p * (lp - ((s[at + c]! - max) / T - logZt));
      gKd[at + c] = (e[c]! / sumExpT - p) / (T * rows);
    }
  }
  return { ce: ceSum / rows, kd: targets ? kdSum / rows : 0, correct, gCe, gKd };
}

/** Outputs: loss, ce, kd, correct, then ∂ce/∂logits and (with soft targets) ∂kd/∂logits, kept for the backward pass. */
function headKernel(kernelName: string, backendName: string): KernelConfig {
  const kernelFunc = ({ inputs, attrs, backend }: { inputs: unknown; attrs: NamedAttrMap; backend: unknown }): TensorInfo[] => {
    const b = backend as HeadBackend;
    const a = attrs as unknown as HeadAttrs;
    const { logits, labels, targets } = inputs as HeadInputs;
    const [rows, classes] = logits.shape as [number, number];
    const r = pass(read(b, logits), read(b, labels), targets && read(b, targets), rows, classes, a);
    const loss = a.ceWeight * r.ce + a.kdWeight * r.kd;
    const scalars = [loss, r.ce, r.kd, r.correct].map((v) => output(b, [], Float32Array.of(v)));
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
    [LOSS_HEAD_KERNEL, [false, false, false, false, true, true]],
    [CE_HEAD_KERNEL, [false, false, false, false, true]],
  ] as const) {
    tf.registerGradient({
      kernelName,
      outputsToSave: [...outputsToSave],
      gradFunc: (dy, saved, attrs) => {
        const [gCe, gKd] = saved as [tf.Tensor2D, tf.Tensor2D | undefined];
        // Upstream gradients of loss, ce and kd (correct has none); null for an output the loss does not depend on. Scalars
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
 * loss = w_ce·CE(labels, logits) + w_kd·KL(p ‖ softmax(logits/T)), with CE and KL (batch means) and the
 * count of correct predictions beside it; without soft targets, KL is 0. Only where `fusedHeadAvailable()`.
 */
export function lossHead(labels: tf.Tensor1D, logits: tf.Tensor2D, soft: SoftTargets | undefined, weights: HeadWeights): HeadValue {
  if (!registered) register();
  const targets = soft && ('logProbs' in soft ? soft.logProbs : soft.teacherLogits);
  const inputs = { logits, labels: labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32'), ...(targets ? { targets } : {}) };
  const attrs: HeadAttrs = { ...weights, targetsAreLogits: soft !== undefined && 'teacherLogits' in soft };
  const [loss, ce, kd, correct, ...gradients] = tf
    .engine()
    .runKernel(soft ? LOSS_HEAD_KERNEL : CE_HEAD_KERNEL, inputs as never, attrs as unknown as NamedAttrMap) as tf.Tensor[];
  // The per-term gradients are the backward pass's (the engine keeps its own references); the caller sees scalars.
  tf.dispose(gradients);
  return { loss: loss as tf.Scalar, ce: ce as tf.Scalar, kd: kd as tf.Scalar, correct: correct as tf.Scalar };
}
