// Conv and depthwise gradients on wasm (kernels we add or reroute) against the cpu backend's.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend/index.js';
import { assertSameOnWasmAndCpu, randomTensor } from './helpers.js';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const explicit = (t: number, b: number, l: number, r: number): tf.backend_util.ExplicitPadding => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];

const CONV_CASES: ConvCase[] = [
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [2, 9, 7, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { x: [2, 9, 7, 2], filter: [3, 2, 2, 5], strides: [2, 3], pad: 'valid' },
  { x: [3, 10, 10, 4], filter: [5, 5, 4, 2], strides: 2, pad: 'same' },
  { x: [2, 6, 6, 3], filter: [1, 1, 3, 6], strides: 1, pad: 'valid' },
  { x: [2, 7, 7, 2], filter: [3, 3, 2, 3], strides: 2, pad: explicit(1, 2, 0, 1) },
  // Padding wider than the filter: the input gradient keeps the stock kernel.
  { x: [1, 5, 5, 2], filter: [2, 2, 2, 3], strides: 1, pad: explicit(2, 0, 3, 1) },
];

function describeCase(c: ConvCase): string {
  return `x ${c.x.join('x')} filter ${c.filter.join('x')} strides ${String(c.strides)} pad ${JSON.stringify(c.pad)}`;
}

/** Gradients of a weighted sum of the conv output, so every output element has its own dy. */
function convGrads(c: ConvCase, depthwise: boolean): () => tf.Tensor[] {
  return () => {
    const x = randomTensor(c.x, 1) as tf.Tensor4D;
    const f = randomTensor(c.filter, 2) as tf.Tensor4D;
    const conv = (xx: tf.Tensor4D, ff: tf.Tensor4D): tf.Tensor4D =>
      depthwise ? tf.depthwiseConv2d(xx, ff, c.strides, c.pad) : tf.conv2d(xx, ff, c.strides, c.pad);
    const outShape = conv(x, f).shape;
    const weights = randomTensor(outShape, 3);
    const [dx, df] = tf.grads((xx: tf.Tensor, ff: tf.Tensor) => tf.sum(tf.mul(conv(xx as tf.Tensor4D, ff as tf.Tensor4D), weights)))([x, f]);
    return [conv(x, f), dx!, df!];
  };
}

describe('wasm conv gradients match cpu', () => {
  before(async () => {
    await initBackend('wasm');
  });

  for (const c of CONV_CASES) {
    it(`conv2d ${describeCase(c)}`, async () => {
      await assertSameOnWasmAndCpu(convGrads(c, false), 1e-4, describeCase(c));
    });
  }

  const DEPTHWISE_CASES: ConvCase[] = [
    { x: [2, 8, 8, 3], filter: [3, 3, 3, 1], strides: 1, pad: 'same' },
    { x: [2, 9, 7, 2], filter: [3, 3, 2, 2], strides: 2, pad: 'same' },
    { x: [2, 9, 9, 4], filter: [5, 5, 4, 1], strides: 2, pad: 'valid' },
  ];
  for (const c of DEPTHWISE_CASES) {
    it(`depthwiseConv2d ${describeCase(c)}`, async () => {
      await assertSameOnWasmAndCpu(convGrads(c, true), 1e-4, describeCase(c));
    });
  }

  it('conv2d with dilation trains nowhere: tfjs-core refuses its gradient on both backends', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await tf.setBackend(backend);
      assert.throws(
        () =>
          tf.tidy(() => {
            const x = randomTensor([1, 8, 8, 2], 1) as tf.Tensor4D;
            const f = randomTensor([3, 3, 2, 2], 2) as tf.Tensor4D;
            tf.grad((ff: tf.Tensor) => tf.sum(tf.conv2d(x, ff as tf.Tensor4D, 1, 'same', 'NHWC', 2)))(f);
          }),
        /dilation rates greater than 1/,
      );
    }
    await tf.setBackend('wasm');
  });

  // The stock wasm MaxPoolGrad loses the gradient of every window whose values are all <= 0.
  for (const [size, strides, pad] of [
    [2, 2, 'valid'],
    [2, 2, 'same'],
    [3, 1, 'same'],
    [3, 2, 'valid'],
  ] as const) {
    it(`maxPool gradient, negative values included: pool ${size} strides ${strides} ${pad}`, async () => {
      await assertSameOnWasmAndCpu(() => {
        const x = randomTensor([2, 7, 7, 3], 5) as tf.Tensor4D;
        const dy = randomTensor(tf.maxPool(x, size, strides, pad).shape, 6);
        const negative = tf.neg(tf.abs(x));
        return [tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, size, strides, pad), dy)))(negative)];
      }, 1e-6); // overlapping windows sum in a different order
    });
  }

  it('a small conv model: one training step gives the same gradients on wasm and cpu', async () => {
    const step = (): tf.Tensor[] => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: [12, 12, 1],
            filters: 6,
            kernelSize: 3,
            strides: 2,
            padding: 'same',
            activation: 'tanh',
            kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
          }),
          tf.layers.batchNormalization({ momentum: 0.9 }),
          tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'valid', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
        ],
      });
      const x = randomTensor([8, 12, 12, 1], 4);
      const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      const out = model.trainableWeights.map((w) => grads[w.name]!);
      model.dispose();
      return out;
    };
    await assertSameOnWasmAndCpu(step, 1e-4, 'conv model step');
  });
});
