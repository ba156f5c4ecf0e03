/**
 * The learned projections of hint distillation: each maps a student layer's output onto the shape of
 * its teacher layer. They train with the student (same optimizer, same steps) and are never part of
 * the saved student model; checkpoints carry their weights so a resumed job continues exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../rng.js';
import type { StoredTensor } from '../train/state.js';
import { projectionParameters, type ProjectionPlan } from './projection-plan.js';

// The plan is pure (the API checks specs with it without loading tfjs); the variables live here.
export { MAX_PROJECTION_PARAMETERS, planProjection, projectionParameters, type ProjectionPlan } from './projection-plan.js';

/** One projection per hint pair; `apply` maps a student batch [B, ...from] to [B, ...to]. */
export class Projections {
  private readonly kernels: tf.Variable[] = [];
  private readonly biases: tf.Variable[] = [];

  constructor(
    readonly plans: readonly ProjectionPlan[],
    seed: number,
  ) {
    plans.forEach((plan, i) => {
      const [fanIn, fanOut] = plan.kind === 'conv1x1' ? [plan.inChannels, plan.outChannels] : [plan.inUnits, plan.outUnits];
      // Glorot-uniform like the models' own kernels; a 1×1 kernel's fans are its channel counts.
      const init = tf.initializers.glorotUniform({ seed: deriveSeed(seed, 'projection', i) }).apply([fanIn, fanOut]);
      const zeros = tf.zeros([fanOut]);
      // A variable shares its initial tensor's data: the initial tensors are ours to free.
      this.kernels.push(tf.variable(init, true));
      this.biases.push(tf.variable(zeros, true));
      init.dispose();
      zeros.dispose();
    });
  }

  apply(i: number, student: tf.Tensor): tf.Tensor {
    const plan = this.plans[i]!;
    const batch = student.shape[0]!;
    return tf.tidy(() => {
      // A 1×1 convolution is the same matrix applied at every position: one matmul over B·h·w rows.
      const rows = plan.kind === 'conv1x1' ? tf.reshape(student, [-1, plan.inChannels]) : tf.reshape(student, [batch, plan.inUnits]);
      const out = tf.add(tf.matMul(rows as tf.Tensor2D, this.kernels[i]!), this.biases[i]!);
      return tf.reshape(out, [batch, ...plan.to]);
    });
  }

  get variables(): tf.Variable[] {
    return this.plans.flatMap((_, i) => [this.kernels[i]!, this.biases[i]!]);
  }

  parameters(): number {
    return this.plans.reduce((n, p) => n + projectionParameters(p), 0);
  }

  read(): StoredTensor[] {
    return this.variables.map((v, i) => ({ name: `p${i}`, shape: [...v.shape], dtype: 'float32', data: Float32Array.from(v.dataSync()) }));
  }

  write(stored: readonly StoredTensor[]): void {
    const vars = this.variables;
    if (stored.length !== vars.length || vars.some((v, i) => v.shape.join() !== stored[i]!.shape.join())) {
      throw new Error(`stored projection weights [${stored.map((w) => `[${w.shape}]`)}] do not fit the projections`);
    }
    vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(stored[i]!.data, stored[i]!.shape, 'float32'))));
  }

  dispose(): void {
    this.variables.forEach((v) => v.dispose());
  }
}
