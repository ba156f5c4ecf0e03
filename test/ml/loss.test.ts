// The distillation loss against values worked out by hand on a two-class case, and its gradient.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { distillationLoss } from '../../src/ml/distill/loss.js';

before(async () => {
  await initBackend('wasm');
});

// One sample, two classes. Student logits [0, 0] (q = [1/2, 1/2]); teacher logits [ln 3, 0], so at
// T = 1 the teacher's softmax is [3/4, 1/4] and at T = 2 it is [√3, 1] / (√3 + 1). True label: 0.
const student = () => tf.tensor2d([[0, 0]]);
const teacher = () => tf.tensor2d([[Math.log(3), 0]]);
const label = () => tf.tensor1d([0], 'int32');

const CE = Math.log(2); // -ln q0
const KL_T1 = 0.75 * Math.log(0.75 / 0.5) + 0.25 * Math.log(0.25 / 0.5);
const P_T2 = [Math.sqrt(3) / (Math.sqrt(3) + 1), 1 / (Math.sqrt(3) + 1)] as const;
const KL_T2 = P_T2[0] * Math.log(P_T2[0] / 0.5) + P_T2[1] * Math.log(P_T2[1] / 0.5);

function lossAndGrad(temperature: number, alpha: number) {
  return tf.tidy(() => {
    const s = student();
    const terms = distillationLoss(label(), s, teacher(), temperature, alpha);
    const grad = tf.grad((x: tf.Tensor) => distillationLoss(label(), x as tf.Tensor2D, teacher(), temperature, alpha).loss)(s);
    return { loss: terms.loss.dataSync()[0]!, ce: terms.ce.dataSync()[0]!, kd: terms.kd.dataSync()[0]!, grad: Array.from(grad.dataSync()) };
  });
}

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-5, `${what}: ${actual} vs ${expected}`);

describe('distillation loss', () => {
  it('α = 0 is the hard-label cross-entropy, with gradient softmax(s) − onehot(y)', () => {
    const r = lossAndGrad(4, 0);
    close(r.loss, CE, 'loss');
    close(r.ce, CE, 'ce term');
    close(r.grad[0]!, 0.5 - 1, 'dL/ds0');
    close(r.grad[1]!, 0.5, 'dL/ds1');
  });

  it('α = 1, T = 1 is KL(teacher ‖ student), with gradient q − p', () => {
    const r = lossAndGrad(1, 1);
    close(KL_T1, 0.130812, 'hand value of KL'); // 0.75·ln1.5 − 0.25·ln2
    close(r.loss, KL_T1, 'loss');
    close(r.kd, KL_T1, 'kd term');
    close(r.grad[0]!, 0.5 - 0.75, 'dL/ds0');
    close(r.grad[1]!, 0.5 - 0.25, 'dL/ds1');
  });

  it('the soft term is scaled by T², so its gradient is T·(q_T − p_T)', () => {
    const r = lossAndGrad(2, 1);
    close(r.kd, KL_T2, 'kd term at T = 2 (before scaling)');
    close(r.loss, 4 * KL_T2, 'loss = T²·KL');
    close(r.grad[0]!, 2 * (0.5 - P_T2[0]), 'dL/ds0');
    close(r.grad[1]!, 2 * (0.5 - P_T2[1]), 'dL/ds1');
  });

  it('mixes both terms: (1−α)·CE + α·T²·KL', () => {
    const r = lossAndGrad(2, 0.3);
    close(r.loss, 0.7 * CE + 0.3 * 4 * KL_T2, 'loss');
    close(r.grad[0]!, 0.7 * (0.5 - 1) + 0.3 * 2 * (0.5 - P_T2[0]), 'dL/ds0');
  });

  it('averages the KL over the batch (sum over classes, mean over samples)', () => {
    const kd = tf.tidy(() => {
      // Two samples: the hand case above and a sample where teacher and student agree (KL = 0).
      const s = tf.tensor2d([
        [0, 0],
        [1, 2],
      ]);
      const t = tf.tensor2d([
        [Math.log(3), 0],
        [1, 2],
      ]);
      return distillationLoss(tf.tensor1d([0, 1], 'int32'), s, t, 1, 1).kd.dataSync()[0]!;
    });
    close(kd, KL_T1 / 2, 'batch-mean KL');
  });
});
