// Every layer type the engine trains, exported to ONNX by our exporter and run in onnxruntime-node:
// its outputs on a test split match tfjs' (max |Δ| ≤ 1e-4·max |logit|, argmax ≥ 99.9% the same).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type onnxProto from 'onnx-proto';
import { initBackend } from '../../src/ml/backend/index.js';
import { adaptInputs } from '../../src/ml/data/adapt.js';
import { splitDataset } from '../../src/ml/data/prepare.js';
import { generateSynthetic } from '../../src/ml/data/synthetic.js';
import { decodeOnnx } from '../../src/ml/export/onnx-graph.js';
import { ExportError, exportOnnx } from '../../src/ml/export/onnx-export.js';
import { openOnnx, runOnnx } from '../../src/ml/export/onnx-run.js';
import { compareOutputs, MIN_ARGMAX_AGREEMENT, RELATIVE_TOLERANCE } from '../../src/ml/export/onnx-verify.js';
import { buildModel } from '../../src/ml/models/build.js';
import { modelLayers } from '../../src/ml/models/presets.js';
import type { LayerSpec } from '../../src/ml/spec.js';
import { ActivationSchema } from '../../src/ml/spec.js';

before(async () => {
  await initBackend('wasm');
});

/**
 * A test split of `shape`-shaped samples (synthetic, seeded). `gain` spreads the inputs so that every
 * activation works over its whole range (relu6 saturates, softplus and elu bend), not only near 0.
 */
function testSplit(shape: number[], classes = 5, gain = 1): { x: Float32Array; shape: number[]; n: number } {
  const ds = generateSynthetic({ shape, classes, samples: 1500, seed: 3 });
  const split = splitDataset(ds, { seed: 7, validationFraction: 0.1, testFraction: 0.3 });
  return { x: split.test.x.map((v) => v * gain), shape, n: split.test.y.length };
}

/** Moving statistics away from 0/1 so batch normalization really does something (as after training). */
function perturbBatchNorm(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const shapes = layer.getWeights().map((w) => w.shape);
    layer.setWeights(shapes.map((s, k) => (k === 3 ? tf.randomUniform(s, 0.3, 2, 'float32', seed + k) : tf.randomNormal(s, 0, 0.5, 'float32', seed + k))));
  }
}

async function tfjsOutputs(model: tf.LayersModel, x: Float32Array, shape: number[], modelShape = shape): Promise<Float32Array> {
  const n = x.length / shape.reduce((a, b) => a * b, 1);
  const input = tf.tensor(x, [n, ...shape]);
  const adapted = adaptInputs(input, modelShape);
  const out = model.predict(adapted, { batchSize: 256 }) as tf.Tensor;
  const values = (await out.data()) as Float32Array;
  tf.dispose([input, adapted, out]);
  return values;
}

async function assertMatches(model: tf.LayersModel, data: { x: Float32Array; shape: number[] }, opts: { readShape?: number[] } = {}): Promise<void> {
  const modelShape = (model.inputs[0]!.shape as number[]).slice(1);
  const bytes = exportOnnx(model, opts);
  const session = await openOnnx(bytes);
  try {
    const ort = await runOnnx(session, data.x, data.shape);
    const reference = await tfjsOutputs(model, data.x, data.shape, modelShape);
    const c = compareOutputs(reference, ort.values, ort.classes);
    assert.ok(c.maxAbsDiff <= RELATIVE_TOLERANCE * c.maxAbs, `${model.name}: max |Δ| ${c.maxAbsDiff} > ${RELATIVE_TOLERANCE} × max |logit| ${c.maxAbs}`);
    assert.ok(c.argmaxAgreement >= MIN_ARGMAX_AGREEMENT, `${model.name}: argmax agrees on ${c.argmaxAgreement}`);
    assert.ok(c.maxAbs > 0.01, 'the outputs are not trivially zero');
  } finally {
    await session.release();
  }
}

const ACTIVATIONS = ActivationSchema.anyOf.map((a) => a.const);

describe('ONNX export, checked in onnxruntime-node', () => {
  it('writes opset ≥ 13 with the NHWC input and the class output named', () => {
    const model = buildModel(modelLayers({ preset: 'cnn-student' }, [12, 12, 1], 4), [12, 12, 1], 'meta', 1);
    const decoded = decodeOnnx(exportOnnx(model));
    assert.ok(Number(decoded.opsetImport[0]?.version) >= 13);
    const graph = decoded.graph!;
    const dims = (v: onnxProto.onnx.IValueInfoProto | undefined) => v?.type?.tensorType?.shape?.dim?.map((d) => (d.dimValue ? Number(d.dimValue) : d.dimParam));
    assert.equal(graph.input?.[0]?.name, 'input');
    assert.deepEqual(dims(graph.input?.[0]), ['N', 12, 12, 1]);
    assert.equal(graph.output?.[0]?.name, 'output');
    assert.deepEqual(dims(graph.output?.[0]), ['N', 4]);
    model.dispose();
  });

  it('dense layers with every activation the specs allow, as layer option and as activation layer', async () => {
    const data = testSplit([20], 5, 8);
    for (const activation of ACTIVATIONS) {
      const layers: LayerSpec[] = [
        { type: 'dense', units: 24, activation },
        { type: 'dense', units: 16, use_bias: false },
        { type: 'activation', activation },
        { type: 'dense', units: 5 },
      ];
      const model = buildModel(layers, [20], `dense_${activation}`, 11);
      await assertMatches(model, data);
      model.dispose();
    }
  });

  it('conv2d (valid/same, strides, every activation), pooling, batch norm, dropout, flatten', async () => {
    const data = testSplit([13, 11, 3], 5, 8);
    for (const activation of ACTIVATIONS) {
      const layers: LayerSpec[] = [
        { type: 'conv2d', filters: 6, kernel_size: 3, padding: 'same', activation },
        { type: 'batchNormalization' },
        { type: 'maxPooling2d', pool_size: 2, padding: 'same' },
        { type: 'conv2d', filters: 8, kernel_size: [3, 2], strides: [2, 1], activation: 'relu' },
        { type: 'activation', activation },
        { type: 'averagePooling2d', pool_size: [2, 3], strides: 1, padding: 'same' },
        { type: 'dropout', rate: 0.4 },
        { type: 'flatten' },
        { type: 'dense', units: 12, activation: 'relu' },
        { type: 'batchNormalization', epsilon: 0.01 },
        { type: 'dense', units: 5 },
      ];
      const model = buildModel(layers, [13, 11, 3], `cnn_${activation}`, 12);
      perturbBatchNorm(model, 5);
      await assertMatches(model, data);
      model.dispose();
    }
  });

  it('the presets (cnn-teacher, cnn-student, hinton-student) as jobs build them', async () => {
    const images = testSplit([28, 28, 1], 10);
    for (const preset of ['cnn-teacher', 'cnn-student'] as const) {
      const model = buildModel(modelLayers({ preset }, [28, 28, 1], 10), [28, 28, 1], preset, 2);
      await assertMatches(model, images);
      model.dispose();
    }
    const flat = testSplit([784], 10);
    const mlp = buildModel(modelLayers({ preset: 'hinton-student' }, [784], 10), [784], 'hinton', 2);
    await assertMatches(mlp, flat);
    mlp.dispose();
  });

  it("input resizing: a 16×16 student exported to read the dataset's 28×28 (and flat 784) samples", async () => {
    const model = buildModel(modelLayers({ preset: 'cnn-student' }, [16, 16, 1], 10), [16, 16, 1], 'resize', 4);
    await assertMatches(model, testSplit([28, 28, 1], 10), { readShape: [28, 28, 1] });
    await assertMatches(model, testSplit([784], 10), { readShape: [784] });
    const mlp = buildModel(modelLayers({ preset: 'mlp-tiny' }, [64], 10), [64], 'reshape', 4);
    await assertMatches(mlp, testSplit([8, 8, 1], 10), { readShape: [8, 8, 1] });
    model.dispose();
    mlp.dispose();
  });

  it('refuses a layer it cannot express, naming it', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ name: 'conv', inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }),
        tf.layers.globalAveragePooling2d({ name: 'gap' }),
        tf.layers.dense({ units: 3 }),
      ],
    });
    assert.throws(
      () => exportOnnx(model),
      (err: unknown) => err instanceof ExportError && /layer gap \(GlobalAveragePooling2D\) cannot be exported/.test(err.message),
    );
    const gelu = tf.sequential({ layers: [tf.layers.dense({ name: 'd', inputShape: [4], units: 3, activation: 'gelu_new' as 'relu' })] });
    assert.throws(
      () => exportOnnx(gelu),
      (err: unknown) => err instanceof ExportError && /activation 'gelu_new' of layer d/.test(err.message),
    );
    model.dispose();
    gelu.dispose();
  });
});
