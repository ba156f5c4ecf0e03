// The native CPU path (wasm-blas): OpenBLAS matmuls on the wasm heap and the fused Adam update,
// against the cpu backend and the stock optimizer. Where the addon is not built (no libopenblas-dev),
// what is checked instead is that wasm-blas refuses with the reason and `auto` trains on plain wasm.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend/index.js';
import { loadBlasAddon } from '../../../src/ml/backend/blas/addon.js';
import { checkWasmInternals } from '../../../src/ml/backend/blas/heap.js';
import { FusedAdamOptimizer } from '../../../src/ml/train/fused-adam.js';
import { assertSameOnWasmAndCpu, randomTensor, randomValues } from './helpers.js';

const addon = loadBlasAddon();

describe('wasm-blas', { concurrency: false }, () => {
  if (!addon.ok) {
    it('is refused with the reason where the addon is not built, and auto trains on wasm', async () => {
      await assert.rejects(initBackend('wasm-blas'), (err: Error) => err.message.includes('wasm-blas: distill-blas'));
      const info = await initBackend('auto');
      assert.equal(info.name, 'wasm');
      assert.ok(
        info.skipped.some((s) => s.startsWith('wasm-blas: distill-blas')),
        info.skipped.join('; '),
      );
    });
    return;
  }

  before(async () => {
    const info = await initBackend('wasm-blas');
    assert.equal(info.name, 'wasm-blas');
    assert.deepEqual(info.blas?.kernels, ['BatchMatMul', '_FusedMatMul']);
    assert.equal(info.threads, 1);
    assert.equal(info.adam, 'fused-native');
  });

  it('finds the tfjs-backend-wasm internals it works through where it expects them', () => {
    // Fails loudly when an upgrade of @tensorflow/tfjs-backend-wasm moves dataIdMap, memoryOffset, makeOutput or HEAPU8.
    const values = randomValues(37, 99);
    const t = tf.tensor1d(values);
    checkWasmInternals(tf.backend(), { dataId: t.dataId, shape: t.shape, dtype: t.dtype }, values);
    t.dispose();
    const pkg = JSON.parse(JSON.stringify(tf.version)) as Record<string, string>;
    assert.equal(pkg['tfjs-core'], '4.22.0', 'the native kernels are written against @tensorflow/* 4.22.0: re-check heap.ts before upgrading');
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`matMul transposeA=${ta} transposeB=${tb}: rank 2, batched rank 3, a broadcast batch of one, rank 4`, async () => {
      await assertSameOnWasmAndCpu(
        () => {
          const a2 = randomTensor(ta ? [33, 17] : [17, 33], 1);
          const b2 = randomTensor(tb ? [9, 33] : [33, 9], 2);
          const a3 = randomTensor(ta ? [3, 20, 5] : [3, 5, 20], 3);
          const b3 = randomTensor(tb ? [3, 7, 20] : [3, 20, 7], 4);
          const b1 = randomTensor(tb ? [1, 7, 20] : [1, 20, 7], 5);
          const a1 = randomTensor(ta ? [1, 20, 5] : [1, 5, 20], 24);
          const a4 = randomTensor(ta ? [2, 3, 20, 5] : [2, 3, 5, 20], 6);
          const b4 = randomTensor(tb ? [2, 3, 7, 20] : [2, 3, 20, 7], 7);
          return [tf.matMul(a2, b2, ta, tb), tf.matMul(a3, b3, ta, tb), tf.matMul(a3, b1, ta, tb), tf.matMul(a1, b3, ta, tb), tf.matMul(a4, b4, ta, tb)];
        },
        1e-4,
        `transposeA=${ta} transposeB=${tb}`,
      );
    });

    for (const activation of ['linear', 'relu', 'elu', 'leakyrelu'] as const) {
      it(`fused matMul transposeA=${ta} transposeB=${tb}, ${activation}, bias per column, scalar bias, no bias, and its gradients`, async () => {
        await assertSameOnWasmAndCpu(
          () => {
            const a = randomTensor(ta ? [24, 16] : [16, 24], 8) as tf.Tensor2D;
            const b = randomTensor(tb ? [11, 24] : [24, 11], 9) as tf.Tensor2D;
            const bias = randomTensor([11], 10);
            const dy = randomTensor([16, 11], 11);
            const f = (aa: tf.Tensor, bb: tf.Tensor, cc?: tf.Tensor): tf.Tensor =>
              tf.fused.matMul({ a: aa as tf.Tensor2D, b: bb as tf.Tensor2D, transposeA: ta, transposeB: tb, ...(cc ? { bias: cc } : {}), activation });
            const grads = tf.grads((aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(f(aa, bb, cc), dy)))([a, b, bias]);
            return [f(a, b, bias), f(a, b, tf.scalar(0.25)), f(a, b), ...grads];
          },
          1e-4,
          `${activation} transposeA=${ta} transposeB=${tb}`,
        );
      });
    }

    it(`fused matMul transposeA=${ta} transposeB=${tb} with a bias per row (broadcast by the stock Add) and prelu`, async () => {
      await assertSameOnWasmAndCpu(
        () => {
          const a = randomTensor(ta ? [24, 16] : [16, 24], 12) as tf.Tensor2D;
          const b = randomTensor(tb ? [11, 24] : [24, 11], 13) as tf.Tensor2D;
          const rowBias = randomTensor([16, 1], 14);
          const alpha = randomTensor([11], 15);
          return [
            tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias: rowBias }),
            tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias: randomTensor([11], 16), activation: 'prelu', preluActivationWeights: alpha }),
          ];
        },
        1e-4,
        `row bias transposeA=${ta} transposeB=${tb}`,
      );
    });
  }

  it('dense layers train to the same weights as on cpu (forward, every backward matmul, Adam)', async () => {
    await assertSameOnWasmAndCpu(
      () => {
        const model = tf.sequential({
          layers: [
            tf.layers.dense({ units: 13, activation: 'relu', inputShape: [29], kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) }),
            tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.glorotUniform({ seed: 10 }) }),
          ],
        });
        const x = randomTensor([31, 29], 17);
        const y = randomTensor([31, 5], 18);
        const optimizer = new FusedAdamOptimizer(0.01, 0.9, 0.999);
        for (let step = 0; step < 3; step++) optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar);
        const out = model.getWeights().map((w) => w.clone());
        optimizer.dispose();
        model.dispose();
        return out;
      },
      1e-4,
      'dense training',
    );
  });
});

describe('fused Adam', { concurrency: false }, () => {
  /** Weights and slots after `steps` of an optimizer on one problem, on the active backend. */
  function train(make: () => tf.Optimizer, steps: number): Float32Array[] {
    return tf.tidy(() => {
      const w = tf.variable(randomTensor([300, 7], 21), true, `fused_adam_w_${Math.random()}`);
      const b = tf.variable(randomTensor([7], 22), true, `fused_adam_b_${Math.random()}`);
      const x = randomTensor([50, 300], 23);
      const optimizer = make();
      for (let i = 0; i < steps; i++) optimizer.minimize(() => tf.sum(tf.square(tf.add(tf.matMul(x, w), b))) as tf.Scalar);
      const slots = optimizer as unknown as {
        accumulatedFirstMoment: Array<{ variable: tf.Variable }>;
        accumulatedSecondMoment: Array<{ variable: tf.Variable }>;
      };
      const out = [w, b, ...slots.accumulatedFirstMoment.map((s) => s.variable), ...slots.accumulatedSecondMoment.map((s) => s.variable)].map((t) =>
        Float32Array.from(t.dataSync()),
      );
      optimizer.dispose();
      w.dispose();
      b.dispose();
      return out as unknown as tf.Tensor[];
    }) as unknown as Float32Array[];
  }

  for (const backend of addon.ok ? (['wasm-blas', 'wasm'] as const) : (['wasm'] as const)) {
    it(`on ${backend} (${backend === 'wasm' ? 'JavaScript loop' : 'native addon'}) gives the stock Adam's weights and slots, bit for bit`, async () => {
      const info = await initBackend(backend);
      assert.equal(info.adam, backend === 'wasm' ? 'fused-js' : 'fused-native');
      const stock = train(() => tf.train.adam(0.01), 5);
      const fused = train(() => new FusedAdamOptimizer(0.01, 0.9, 0.999), 5);
      assert.equal(fused.length, 6);
      fused.forEach((f, i) => assert.deepEqual(f, stock[i], `tensor ${i} differs`));
    });
  }

  it('on cpu is the stock optimizer', async () => {
    await initBackend('cpu');
    const stock = train(() => tf.train.adam(0.01), 3);
    const fused = train(() => new FusedAdamOptimizer(0.01, 0.9, 0.999), 3);
    fused.forEach((f, i) => assert.deepEqual(f, stock[i]));
    await initBackend('wasm');
  });
});
