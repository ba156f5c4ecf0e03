// The loss terms beyond logits against values worked out by hand on tiny tensors: attention maps,
// the attention-transfer distance, hint projections and their MSE, and several teachers' soft targets.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { attentionLoss, attentionMap, hintLoss } from '../../src/ml/distill/features.js';
import { ensembleLogProbs } from '../../src/ml/distill/loss.js';
import { planProjection, Projections } from '../../src/ml/distill/projection.js';

before(async () => {
  await initBackend('wasm');
});

const close = (actual: ArrayLike<number>, expected: readonly number[], what: string, tol = 1e-5) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
};
const values = (t: tf.Tensor) => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};
const stored = (shape: number[], data: number[]) => ({ name: 'x', shape, dtype: 'float32' as const, data: Float32Array.from(data) });

describe('attention transfer', () => {
  // One sample, a 2×2 map of 2 channels. Per position (row-major) the channels are
  // (1,2), (0,1), (2,0), (1,1): Σ_c A² = 5, 1, 4, 2, and ‖(5,1,4,2)‖ = √46.
  const features = () =>
    tf.tensor4d([
      [
        [
          [1, 2],
          [0, 1],
        ],
        [
          [2, 0],
          [1, -1],
        ],
      ],
    ]);
  const MAP = [5, 1, 4, 2].map((v) => v / Math.sqrt(46));

  it('the map is the channel-wise sum of squares, flattened and L2-normalised', () => {
    close(values(attentionMap(features())), MAP, 'map');
  });

  it('the term is ‖a_s − a_t‖₂ per sample, averaged over the batch', () => {
    // Sample 1: student map (1,0,0,0) against MAP; sample 2: identical maps (distance 0).
    const s = tf.tensor2d([[1, 0, 0, 0], MAP]);
    const t = tf.tensor2d([MAP, MAP]);
    const d1 = Math.sqrt((1 - MAP[0]!) ** 2 + MAP[1]! ** 2 + MAP[2]! ** 2 + MAP[3]! ** 2);
    close(values(attentionLoss(s, t)), [d1 / 2], 'loss');
    // Differentiable where the maps agree (the √ of 0 would give NaN without its ε).
    const grad = tf.grad((x: tf.Tensor) => attentionLoss(x as tf.Tensor2D, t))(t);
    assert.ok(values(grad).every(Number.isFinite));
    [s, t].forEach((x) => x.dispose());
  });

  it('a teacher map of twice the size is averaged over 2×2 blocks before normalising', () => {
    // 4×4 one-channel map with energies 1..16 (squares of √k); its 2×2 block means are 3.5, 5.5, 11.5, 13.5.
    const big = tf.tensor4d(
      Array.from({ length: 16 }, (_, k) => Math.sqrt(k + 1)),
      [1, 4, 4, 1],
    );
    const means = [3.5, 5.5, 11.5, 13.5];
    const norm = Math.sqrt(means.reduce((s, v) => s + v * v, 0));
    close(
      values(attentionMap(big, [2, 2])),
      means.map((v) => v / norm),
      'resized map',
    );
    big.dispose();
  });
});

describe('hints', () => {
  it('a dense projection then the MSE over every element', () => {
    const plan = planProjection([2], [3]);
    assert.ok(typeof plan !== 'string' && plan.kind === 'dense');
    const p = new Projections([plan], 1);
    // W = [[1,0,1],[0,1,1]], b = (0,0,1): (x1, x2) ↦ (x1, x2, x1 + x2 + 1).
    p.write([stored([2, 3], [1, 0, 1, 0, 1, 1]), stored([3], [0, 0, 1])]);
    const student = tf.tensor2d([
      [1, 2],
      [0, -1],
    ]);
    const teacher = tf.tensor2d([
      [1, 1, 1],
      [0, 0, 0],
    ]);
    const projected = p.apply(0, student);
    close(Array.from(projected.dataSync()), [1, 2, 4, 0, -1, 0], 'projection');
    // Squared differences: (0,1,9) and (0,1,0): mean 11/6.
    close(values(hintLoss(projected, teacher)), [11 / 6], 'hint loss');
    [student, teacher, projected].forEach((t) => t.dispose());
    p.dispose();
  });

  it('a 1×1 convolution maps channels at every position of a feature map', () => {
    const plan = planProjection([1, 2, 2], [1, 2, 1]);
    assert.ok(typeof plan !== 'string' && plan.kind === 'conv1x1');
    const p = new Projections([plan], 1);
    p.write([stored([2, 1], [2, -1]), stored([1], [0.5])]); // c ↦ 2·c0 − c1 + 0.5
    const student = tf.tensor4d([
      [
        [
          [1, 1],
          [3, 2],
        ],
      ],
    ]);
    const projected = p.apply(0, student);
    assert.deepEqual(projected.shape, [1, 1, 2, 1]);
    close(Array.from(projected.dataSync()), [1.5, 4.5], 'projection');
    const teacher = tf.tensor4d([[[[1.5], [2.5]]]]);
    close(values(hintLoss(projected, teacher)), [(0 + 4) / 2], 'hint loss');
    [student, teacher, projected].forEach((t) => t.dispose());
    p.dispose();
  });

  it('says which shapes cannot be projected', () => {
    assert.match(planProjection([8, 8, 4], [4, 4, 8]) as string, /differ in height or width/);
    assert.match(planProjection([4, 4], [4]) as string, /rank 2/);
    assert.match(planProjection([4096], [4096]) as string, /parameters/);
    const flat = planProjection([4, 4, 2], [10]);
    assert.ok(typeof flat !== 'string' && flat.kind === 'dense' && flat.inUnits === 32);
  });
});

describe('several teachers', () => {
  // Teacher A logits (ln 3, 0): softmax (3/4, 1/4) at T = 1; teacher B logits (0, 0): (1/2, 1/2).
  const a = () => tf.tensor2d([[Math.log(3), 0]]);
  const b = () => tf.tensor2d([[0, 0]]);
  const soft = (weights: number[], T: number) => tf.tidy(() => values(tf.exp(ensembleLogProbs([a(), b()], weights, T))));

  it("soft targets are the mean of the teachers' softmax outputs", () => {
    close(soft([1, 1], 1), [(0.75 + 0.5) / 2, (0.25 + 0.5) / 2], 'T = 1');
    const pA = [Math.sqrt(3) / (Math.sqrt(3) + 1), 1 / (Math.sqrt(3) + 1)]; // softmax((ln 3, 0)/2)
    close(soft([1, 1], 2), [(pA[0]! + 0.5) / 2, (pA[1]! + 0.5) / 2], 'T = 2');
  });

  it('weights are normalised; a zero weight drops a teacher; one teacher is its own softmax', () => {
    close(soft([3, 1], 1), [0.75 * 0.75 + 0.25 * 0.5, 0.75 * 0.25 + 0.25 * 0.5], 'weights 3:1');
    close(soft([0, 2], 1), [0.5, 0.5], 'weights 0:2');
    close(
      tf.tidy(() => values(tf.exp(ensembleLogProbs([a()], [1], 1)))),
      [0.75, 0.25],
      'one teacher',
    );
  });
});
