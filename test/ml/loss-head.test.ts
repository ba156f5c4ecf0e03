// The loss head as one kernel against the same head composed of stock tfjs ops (loss.ts): values and
// gradients, on every backend it is registered for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { composedCrossEntropy, correctOf, klFromLogProbs } from '../../src/ml/distill/loss.js';
import { fusedHeadAvailable, lossHead, type SoftTargets } from '../../src/ml/distill/loss-head.js';
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

type Targets = 'none' | 'logProbs' | 'teacherLogits';
type Head = (labels: tf.Tensor1D, logits: tf.Tensor2D, teacher: tf.Tensor2D) => { loss: tf.Scalar; ce: tf.Scalar; kd: tf.Scalar; correct: tf.Scalar };

/** loss, ce, kd, correct and d(loss + 2·ce + 3·kd)/dlogits, so every output's gradient counts. */
function measure(head: Head, seed: number, scale: number) {
  return tf.tidy(() => {
    const b = batch(seed, scale);
    const value = head(b.labels, b.logits, b.teacher);
    const grad = tf.grad((s: tf.Tensor) => {
      const v = head(b.labels, s as tf.Tensor2D, b.teacher);
      return tf.addN([v.loss, tf.mul(v.ce, 2), tf.mul(v.kd, 3)]) as tf.Scalar;
    })(b.logits);
    const [loss, ce, kd, correct] = [value.loss, value.ce, value.kd, value.correct].map((t) => t.dataSync()[0]!) as [number, number, number, number];
    return { loss, ce, kd, correct, grad: grad.dataSync() as Float32Array };
  });
}

const weights = (targets: Targets, T: number, alpha: number) => {
  const soft = targets !== 'none';
  return { temperature: T, ceWeight: soft ? 1 - alpha : 1, kdWeight: soft ? alpha * T * T : 0 };
};

/** loss.ts' stock ops. */
const composed =
  (targets: Targets, T: number, alpha: number): Head =>
  (labels, logits, teacher) => {
    const w = weights(targets, T, alpha);
    const ce = composedCrossEntropy(labels, logits);
    const kd = targets === 'none' ? tf.scalar(0) : klFromLogProbs(tf.logSoftmax(tf.div(teacher, T)) as tf.Tensor2D, logits, T);
    return { loss: tf.add(tf.mul(ce, w.ceWeight), tf.mul(kd, w.kdWeight)) as tf.Scalar, ce, kd, correct: correctOf(logits, labels) };
  };

const fused =
  (targets: Targets, T: number, alpha: number): Head =>
  (labels, logits, teacher) => {
    const soft: SoftTargets | undefined =
      targets === 'none'
        ? undefined
        : targets === 'teacherLogits'
          ? { teacherLogits: teacher }
          : { logProbs: tf.logSoftmax(tf.div(teacher, T)) as tf.Tensor2D };
    return lossHead(labels, logits, soft, weights(targets, T, alpha));
  };

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
      { what: 'cross-entropy alone', targets: 'none', T: 1, alpha: 0, scale: 2 },
      { what: 'Hinton’s loss from log-probabilities, T = 4, α = 0.7', targets: 'logProbs', T: 4, alpha: 0.7, scale: 3 },
      { what: 'Hinton’s loss from a teacher’s logits, T = 4, α = 0.7', targets: 'teacherLogits', T: 4, alpha: 0.7, scale: 3 },
      { what: 'T = 1, α = 1', targets: 'teacherLogits', T: 1, alpha: 1, scale: 1 },
      { what: 'logits of ±100s (no overflow)', targets: 'teacherLogits', T: 2, alpha: 0.5, scale: 80 },
    ] as const;
    for (const c of cases) {
      it(`${c.what}: the values, correct count and gradients of the composed head`, async () => {
        await initBackend(backend);
        const a = measure(fused(c.targets, c.T, c.alpha), 11, c.scale);
        const b = measure(composed(c.targets, c.T, c.alpha), 11, c.scale);
        for (const k of ['loss', 'ce', 'kd'] as const) {
          assert.ok(Number.isFinite(a[k]), `${k} is finite`);
          assertClose(a[k], b[k], 1e-5, k);
        }
        assert.equal(a.correct, b.correct, 'correct predictions');
        assert.ok(b.correct > 0 && b.correct < ROWS, 'a count that tells right from wrong');
        const largest = Math.max(...b.grad.map(Math.abs));
        assert.ok(largest > 0);
        a.grad.forEach((g, i) => assertClose(g, b.grad[i]!, 1e-4 * largest, `gradient ${i}`));
      });
    }

    it('a teacher giving a class no probability adds nothing for it (0·log 0 = 0)', async () => {
      await initBackend(backend);
      const kd = tf.tidy(() => {
        const logP = tf.tensor2d([[0, -Infinity]]);
        return lossHead(tf.tensor1d([0], 'int32'), tf.tensor2d([[0, 0]]), { logProbs: logP }, { temperature: 1, ceWeight: 0, kdWeight: 1 }).kd.dataSync()[0]!;
      });
      assertClose(kd, Math.log(2), 1e-6, 'KL(onehot ‖ uniform)');
    });
  });
}
