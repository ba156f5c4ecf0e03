/**
 * What the teachers contribute to a distillation step: logits (for soft targets) and, for hints and
 * attention transfer, the outputs of named layers. Computed once for the whole training split when
 * it fits in memory (every later epoch then runs the student only), else on every batch.
 */
import * as tf from '@tensorflow/tfjs';
import { tappedForward, type TappedOutputs } from '../models/build.js';
import { attentionMap } from './features.js';

// Set beside the memory estimate, which counts the cache (and must not load tfjs).
export { TARGET_CACHE_BYTES } from '../memory-estimate.js';

/** A teacher layer output the loss needs: as is (hint) or as a normalised attention map. */
export interface FeatureNeed {
  kind: 'hint' | 'attention';
  teacher: number;
  layer: string;
  /** Per-sample shape of the layer's output. */
  shape: number[];
  /** Attention: the student map's height and width, which the teacher's map is resized to. */
  size?: [number, number];
}

export interface TeacherInput {
  model: tf.LayersModel;
  /** The training split at this teacher's input resolution. */
  x: tf.Tensor;
}

export interface BatchTargets {
  /** Per teacher (empty when the logits are not needed). */
  logits: tf.Tensor2D[];
  /** Per feature need, in order. */
  features: tf.Tensor[];
}

export interface TargetSource {
  mode: 'cached' | 'per_batch';
  /** Targets of the samples at `idx`; new tensors (call inside a tidy). */
  batch(idx: tf.Tensor1D): BatchTargets;
  dispose(): void;
}

/** Bytes a cache of every target for `n` samples takes. */
export function cacheBytes(n: number, classes: number, teachers: number, wantLogits: boolean, needs: readonly FeatureNeed[]): number {
  const perSample =
    (wantLogits ? classes * teachers : 0) + needs.reduce((s, f) => s + (f.size ? f.size[0] * f.size[1] : f.shape.reduce((a, b) => a * b, 1)), 0);
  return 4 * n * perSample;
}

class TeacherPasses {
  private readonly forwards: Array<((x: tf.Tensor, training: boolean) => TappedOutputs) | undefined>;
  private readonly tapOf: number[];

  constructor(
    readonly teachers: readonly TeacherInput[],
    readonly wantLogits: boolean,
    readonly needs: readonly FeatureNeed[],
  ) {
    const layers = teachers.map((_, k) => [...new Set(needs.filter((f) => f.teacher === k).map((f) => f.layer))]);
    this.tapOf = needs.map((f) => layers[f.teacher]!.indexOf(f.layer));
    // A teacher whose logits are not needed and whose layers are not tapped is not run at all.
    this.forwards = teachers.map((t, k) => (wantLogits || layers[k]!.length > 0 ? tappedForward(t.model, layers[k]!) : undefined));
  }

  /** Every target for the samples `x(k)` (teacher k's inputs), outside any gradient tape. */
  run(x: (k: number) => tf.Tensor): BatchTargets {
    const outs = this.forwards.map((f, k) => f?.(x(k), false));
    return {
      logits: this.wantLogits ? outs.map((o) => o!.logits) : [],
      features: this.needs.map((f, j) => {
        const tap = outs[f.teacher]!.taps[this.tapOf[j]!]!;
        return f.kind === 'hint' ? tap : attentionMap(tap as tf.Tensor4D, f.size);
      }),
    };
  }
}

export function perBatchTargets(teachers: readonly TeacherInput[], wantLogits: boolean, needs: readonly FeatureNeed[]): TargetSource {
  const passes = new TeacherPasses(teachers, wantLogits, needs);
  return { mode: 'per_batch', batch: (idx) => passes.run((k) => tf.gather(teachers[k]!.x, idx)), dispose() {} };
}

/** Runs the teachers over the whole split once, in chunks, yielding to the event loop as it goes. */
export async function cachedTargets(
  teachers: readonly TeacherInput[],
  wantLogits: boolean,
  needs: readonly FeatureNeed[],
  onProgress?: (fraction: number) => void,
  chunk = 256,
): Promise<TargetSource> {
  const passes = new TeacherPasses(teachers, wantLogits, needs);
  const n = teachers[0]!.x.shape[0]!;
  const parts: BatchTargets[] = [];
  const nLogits = wantLogits ? teachers.length : 0;
  let lastYield = performance.now();
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const part = tf.tidy(() => {
      const t = passes.run((k) => teachers[k]!.x.slice(start, size));
      return [...t.logits, ...t.features];
    });
    parts.push({ logits: part.slice(0, nLogits) as tf.Tensor2D[], features: part.slice(nLogits) });
    onProgress?.((start + size) / n);
    if (performance.now() - lastYield > 50) {
      part[0]?.dataSync(); // let the work finish before timers run
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  const join = (pick: (b: BatchTargets) => tf.Tensor[], count: number) =>
    Array.from({ length: count }, (_, i) => (parts.length === 1 ? pick(parts[0]!)[i]! : tf.concat(parts.map((p) => pick(p)[i]!))));
  const all: BatchTargets = { logits: join((b) => b.logits, nLogits) as tf.Tensor2D[], features: join((b) => b.features, needs.length) };
  if (parts.length > 1) parts.forEach((p) => [...p.logits, ...p.features].forEach((t) => t.dispose()));
  return {
    mode: 'cached',
    batch: (idx) => ({ logits: all.logits.map((l) => tf.gather(l, idx)), features: all.features.map((f) => tf.gather(f, idx)) }),
    dispose: () => [...all.logits, ...all.features].forEach((t) => t.dispose()),
  };
}
