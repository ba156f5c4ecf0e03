// Kernels we reroute (matmul with transposes, tile) or add (segment sum) on wasm, against cpu.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend/index.js';
import { registerWasmKernels } from '../../../src/ml/backend/wasm-kernels/register.js';
import { broadcastView } from '../../../src/ml/backend/wasm-kernels/tile.js';
import { assertSameOnWasmAndCpu, randomTensor } from './helpers.js';

describe('wasm fast paths match cpu', () => {
  before(async () => {
    await initBackend('wasm');
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`matMul transposeA=${ta} transposeB=${tb}, rank 2, rank 3 (batch 1 and batch 3)`, async () => {
      await assertSameOnWasmAndCpu(() => {
        const a2 = randomTensor(ta ? [33, 17] : [17, 33], 1);
        const b2 = randomTensor(tb ? [9, 33] : [33, 9], 2);
        const a3 = randomTensor(ta ? [3, 20, 5] : [3, 5, 20], 3);
        const b3 = randomTensor(tb ? [3, 7, 20] : [3, 20, 7], 4);
        // A short a and a long b: a·bᵀ goes through (b·aᵀ)ᵀ.
        const aShort = randomTensor(ta ? [33, 4] : [4, 33], 25);
        const bLong = randomTensor(tb ? [40, 33] : [33, 40], 26);
        return [tf.matMul(aShort, bLong, ta, tb), tf.matMul(a2, b2, ta, tb), tf.matMul(a2.expandDims(0), b2.expandDims(0), ta, tb), tf.matMul(a3, b3, ta, tb)];
      });
    });

    it(`fused matMul with bias and relu, transposeA=${ta} transposeB=${tb}, and its gradients`, async () => {
      await assertSameOnWasmAndCpu(() => {
        const a = randomTensor(ta ? [24, 16] : [16, 24], 5) as tf.Tensor2D;
        const b = randomTensor(tb ? [11, 24] : [24, 11], 6) as tf.Tensor2D;
        const bias = randomTensor([11], 7);
        const dy = randomTensor([16, 11], 8);
        const f = (aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor): tf.Tensor =>
          tf.fused.matMul({
            a: aa as tf.Tensor2D,
            b: bb as tf.Tensor2D,
            transposeA: ta,
            transposeB: tb,
            bias: cc,
            activation: 'relu',
          });
        const grads = tf.grads((aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(f(aa, bb, cc), dy)))([a, b, bias]);
        return [f(a, b, bias), ...grads];
      });
    });
  }

  it('slice: contiguous row chunks (read in place), strided slices and int32 (stock), and its gradient', async () => {
    await assertSameOnWasmAndCpu(
      () => {
        const x = randomTensor([50, 7, 3], 40);
        const ints = tf.tensor2d(
          Int32Array.from({ length: 60 }, (_, i) => i * 3 - 20),
          [12, 5],
          'int32',
        );
        const dy = randomTensor([5, 3, 2], 41);
        const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.slice(t, [3, 2, 1], [5, 3, 2]), dy)))(x);
        return [
          tf.slice(x, [10, 0, 0], [13, 7, 3]),
          tf.slice(x, [49, 0, 0], [1, -1, -1]),
          tf.slice(x, [4, 1, 0], [6, 5, 2]),
          tf.slice(x.reshape([350, 3]), [17, 0], [100, 3]),
          tf.cast(tf.slice(ints, [2, 0], [4, 5]), 'float32'),
          tf.cast(tf.slice(ints, [1, 1], [3, 3]), 'float32'),
          grad,
        ];
      },
      0,
      'slice',
    );
  });

  it('dense layer gradients (every backward matmul transposes)', async () => {
    await assertSameOnWasmAndCpu(() => {
      const dense = tf.layers.dense({ units: 13, activation: 'relu', inputShape: [29], kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) });
      const x = randomTensor([31, 29], 10);
      dense.apply(x); // builds the weights, outside the gradient closure
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(dense.apply(x) as tf.Tensor)) as tf.Scalar);
      const out = dense.trainableWeights.map((w) => grads[w.name]!);
      dense.dispose();
      return out;
    });
  });

  it('tile as a broadcast, including the batch-norm gradient shape', async () => {
    await assertSameOnWasmAndCpu(
      () => [
        tf.tile(randomTensor([1, 1, 1, 8], 11), [4, 5, 6, 1]),
        tf.tile(randomTensor([2, 3], 12), [2, 2]),
        tf.tile(randomTensor([3, 1, 2], 13), [1, 4, 3]),
        tf.tile(randomTensor([2, 1, 2, 1, 2], 14), [2, 3, 2, 3, 2]),
        tf.tile(tf.tensor([1, 2, 3], [3], 'int32'), [3]).toFloat(),
        tf.tile(randomTensor([5], 15), [1]),
      ],
      0,
    );
  });

  it('tile view merges axes of the same kind and drops size-1 axes', () => {
    assert.deepEqual(broadcastView([1, 1, 1, 8], [4, 5, 6, 1]), { inShape: [1, 8], outShape: [120, 8] });
    assert.deepEqual(broadcastView([2, 3], [2, 2]), { inShape: [1, 2, 1, 3], outShape: [2, 2, 2, 3] });
    assert.deepEqual(broadcastView([4, 5], [1, 1]), { inShape: [20], outShape: [20] });
  });

  it('batch normalization gradients', async () => {
    await assertSameOnWasmAndCpu(() => {
      const x = randomTensor([4, 5, 5, 6], 16) as tf.Tensor4D;
      const dy = randomTensor([4, 5, 5, 6], 17);
      const f = (xx: tf.Tensor, s: tf.Tensor, o: tf.Tensor): tf.Tensor => {
        const { mean, variance } = tf.moments(xx, [0, 1, 2]);
        return tf.batchNorm(xx as tf.Tensor4D, mean, variance, o, s, 1e-3);
      };
      const scale = randomTensor([6], 18);
      const offset = randomTensor([6], 19);
      return tf.grads((xx: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(f(xx, s, o), dy)))([x, scale, offset]);
    });
  });

  it('unsortedSegmentSum and the gradient of gather (embedding training)', async () => {
    await assertSameOnWasmAndCpu(() => {
      const data = randomTensor([7, 3, 2], 20);
      const ids = tf.tensor1d([2, 0, 2, 4, 1, 0, 4], 'int32');
      const table = randomTensor([6, 4], 21);
      const tokens = tf.tensor2d(
        [
          [1, 3, 3],
          [5, 0, 1],
        ],
        [2, 3],
        'int32',
      );
      const dy = randomTensor([2, 3, 4], 22);
      const [dTable] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tokens), dy)))([table]);
      return [tf.unsortedSegmentSum(data, ids, 5), dTable!];
    });
  });

  it('turning fast paths off restores the stock kernels, and on again is idempotent', async () => {
    const run = (): tf.Tensor[] => [tf.matMul(randomTensor([6, 5], 23), randomTensor([6, 4], 24), true, false)];
    assert.deepEqual(registerWasmKernels(false).fastPaths, []);
    assert.equal(tf.getKernel('BatchMatMul', 'wasm').kernelFunc.length, 1);
    await assertSameOnWasmAndCpu(run);
    registerWasmKernels(true);
    const again = registerWasmKernels(true);
    assert.deepEqual(again.fastPaths, ['BatchMatMul', '_FusedMatMul', 'Tile', 'Conv2DBackpropInput', 'Slice']);
    await assertSameOnWasmAndCpu(run);
  });
});
