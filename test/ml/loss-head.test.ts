// The loss head as one kernel against the same head composed of stock tfjs ops (loss.ts): values and
// gradients, on every backend it is registered for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { composedCrossEntropy, klFromLogProbs } from '../../src/ml/distill/loss.js';
import { fusedHeadAvailable, lossHead } from '../../src/ml/distill/loss-head.js';
import { Rng } from '../../src/ml/rng.js';

const ROWS = 128;
const CLASSES = 10;

function batch(seed: number, scale: number) {
  const rng = new Rng(seed);
  const normal = (n: number) => Array.from({ length: n }, () => rng.normal() * scale);
  return {
    logits: tf.tensor2d(normal(ROWS * CLASSES), [ROWS, CLASSES]),
    teacher: tf.tensor2d(normal(ROWS * CLASSES), [ROWS, CLASSES]),
    labels: tf.tensor1d(
      Array.from({ length: ROWS }, () => rng.int(CLASSES)),
      'int32',
    ),
  };
}

/** loss, ce, kd and d(loss + 2·ce + 3·kd)/dlogits, so every output's gradient counts. */
function measure(
  head: (labels: tf.Tensor1D, logits: tf.Tensor2D, logP: tf.Tensor2D | undefined) => { loss: tf.Scalar; ce: tf.Scalar; kd: tf.Scalar },
  soft: boolean,
  seed: number,
  scale: number,
  T: number,
) {
  return tf.tidy(() => {
    const b = batch(seed, scale);
    const logP = soft ? (tf.logSoftmax(tf.div(b.teacher, T)) as tf.Tensor2D) : undefined;
    const value = head(b.labels, b.logits, logP);
    const grad = tf.grad((s: tf.Tensor) => {
      const v = head(b.labels, s as tf.Tensor2D, logP);
      return tf.addN([v.loss, tf.mul(v.ce, 2), tf.mul(v.kd, 3)]) as tf.Scalar;
    })(b.logits);
    return { loss: value.loss.dataSync()[0]!, ce: value.ce.dataSync()[0]!, kd: value.kd.dataSync()[0]!, grad: grad.dataSync() as Float32Array };
  });
}

const weights = (soft: boolean, T: number, alpha: number) => ({ temperature: T, ceWeight: soft ? 1 - alpha : 1, kdWeight: soft ? alpha * T * T : 0 });

function composed(soft: boolean, T: number, alpha: number) {
  const w = weights(soft, T, alpha);
  return (labels: tf.Tensor1D, logits: tf.Tensor2D, logP: tf.Tensor2D | undefined) => {
    const ce = composedCrossEntropy(labels, logits);
    const kd = logP ? klFromLogProbs(logP, logits, T) : tf.scalar(0);
    return { loss: tf.add(tf.mul(ce, w.ceWeight), tf.mul(kd, w.kdWeight)) as tf.Scalar, ce, kd };
  };
}

const fused = (soft: boolean, T: number, alpha: number) => (labels: tf.Tensor1D, logits: tf.Tensor2D, logP: tf.Tensor2D | undefined) =>
  lossHead(labels, logits, logP, weights(soft, T, alpha));

function assertClose(actual: number, expected: number, tolerance: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`the loss head as one kernel (${backend})`, () => {
    it('is the backend’s', async () => {
      await initBackend(backend);
      assert.equal(fusedHeadAvailable(), true);
    });

    const cases = [
      { what: 'cross-entropy alone', soft: false, T: 1, alpha: 0, scale: 2 },
      { what: 'Hinton’s loss, T = 4, α = 0.7', soft: true, T: 4, alpha: 0.7, scale: 3 },
      { what: 'T = 1, α = 1', soft: true, T: 1, alpha: 1, scale: 1 },
      { what: 'logits of ±100s (no overflow)', soft: true, T: 2, alpha: 0.5, scale: 80 },
    ];
    for (const c of cases) {
      it(`${c.what}: the values and gradients of the composed head`, async () => {
        await initBackend(backend);
        const a = measure(fused(c.soft, c.T, c.alpha), c.soft, 11, c.scale, c.T);
        const b = measure(composed(c.soft, c.T, c.alpha), c.soft, 11, c.scale, c.T);
        for (const k of ['loss', 'ce', 'kd'] as const) {
          assert.ok(Number.isFinite(a[k]), `${k} is finite`);
          assertClose(a[k], b[k], 1e-5, k);
        }
        const largest = Math.max(...b.grad.map(Math.abs));
        assert.ok(largest > 0);
        a.grad.forEach((g, i) => assertClose(g, b.grad[i]!, 1e-4 * largest, `gradient ${i}`));
      });
    }

    it('a teacher giving a class no probability adds nothing for it (0·log 0 = 0)', async () => {
      await initBackend(backend);
      const kd = tf.tidy(() => {
        const logP = tf.tensor2d([[0, -Infinity]]);
        return lossHead(tf.tensor1d([0], 'int32'), tf.tensor2d([[0, 0]]), logP, { temperature: 1, ceWeight: 0, kdWeight: 1 }).kd.dataSync()[0]!;
      });
      assertClose(kd, Math.log(2), 1e-6, 'KL(onehot ‖ uniform)');
    });
  });
}
