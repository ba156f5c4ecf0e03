// Quantized students: float16 and 8-bit weights in the tfjs weights-manifest format, loaded by stock
// tf.loadLayersModel over HTTP; and the same 8-bit / float16 weights in ONNX (DequantizeLinear / Cast),
// run in onnxruntime-node. Both runtimes then compute the same function.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { splitDataset } from '../../src/ml/data/prepare.js';
import { generateSynthetic } from '../../src/ml/data/synthetic.js';
import { decodeOnnx } from '../../src/ml/export/onnx-graph.js';
import { exportOnnx } from '../../src/ml/export/onnx-export.js';
import { openOnnx, runOnnx } from '../../src/ml/export/onnx-run.js';
import { argmaxRows, compareOutputs } from '../../src/ml/export/onnx-verify.js';
import { quantizeArtifacts, QUANTIZATIONS } from '../../src/ml/export/quantize.js';
import { fromFloat16Bits, quantizeUint8, dequantizeUint8, toFloat16Bits } from '../../src/ml/export/quantize-math.js';
import { buildModel } from '../../src/ml/models/build.js';
import { modelLayers } from '../../src/ml/models/presets.js';
import { modelToArtifacts, type ModelArtifacts } from '../../src/ml/models/serialize.js';

let server: Server;
let base = '';
const served = new Map<string, Uint8Array | string>();

before(async () => {
  await initBackend('wasm');
  server = createServer((req, res) => {
    const body = served.get(req.url ?? '');
    if (body === undefined) res.writeHead(404).end();
    else res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Serves the files under /<name>/ and loads them as any tfjs app would. */
function loadOverHttp(name: string, a: ModelArtifacts): Promise<tf.LayersModel> {
  served.set(`/${name}/model.json`, JSON.stringify(a.modelJson));
  served.set(`/${name}/weights.bin`, a.weights);
  return tf.loadLayersModel(`${base}/${name}/model.json`);
}

const split = (() => {
  const ds = generateSynthetic({ shape: [12, 12, 1], classes: 6, samples: 2000, seed: 9 });
  return splitDataset(ds, { seed: 1, validationFraction: 0.1, testFraction: 0.3 }).test;
})();
const predict = async (m: tf.LayersModel) => {
  const x = tf.tensor(split.x, [split.y.length, 12, 12, 1]);
  const out = m.predict(x) as tf.Tensor;
  const v = (await out.data()) as Float32Array;
  tf.dispose([x, out]);
  return v;
};

describe('quantization math', () => {
  it('float16 rounds to nearest even and decodes as tfjs does', () => {
    for (const v of [0, -0, 1, -2.5, 65504, 1e-8, 6.1e-5, 3.14157, 0.1, -1e5, 5.96e-8]) {
      const back = fromFloat16Bits(toFloat16Bits(v));
      if (Math.abs(v) > 65504) assert.equal(back, v > 0 ? Infinity : -Infinity);
      else assert.ok(Math.abs(back - v) <= Math.max(Math.abs(v) * 2 ** -11, 2 ** -25), `${v} → ${back}`);
    }
    assert.equal(toFloat16Bits(1 + 2 ** -11), 0x3c00, 'a tie rounds to the even mantissa');
  });

  it('8-bit affine keeps zero exact and every weight within half a step', () => {
    const w = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 0.7 - 0.1);
    const q = quantizeUint8(w);
    const back = dequantizeUint8(q);
    w.forEach((v, i) => assert.ok(Math.abs(back[i]! - v) <= q.scale / 2 + 1e-7));
    assert.equal(dequantizeUint8({ ...q, values: Uint8Array.of(q.zeroPoint) })[0], 0);
  });
});

describe('quantized students', () => {
  it('float16 and uint8 tfjs files load with stock tf.loadLayersModel, and ONNX with the same weights matches them', async () => {
    const model = buildModel(modelLayers({ preset: 'cnn-student' }, [12, 12, 1], 6), [12, 12, 1], 'q', 21);
    const float = await modelToArtifacts(model);
    const reference = await predict(model);
    for (const kind of QUANTIZATIONS) {
      const quantized = quantizeArtifacts(float, kind);
      const ratio = quantized.weights.byteLength / float.weights.byteLength;
      assert.equal(ratio, kind === 'float16' ? 0.5 : 0.25, `${kind} weights.bin is ${ratio} of float32`);
      assert.ok(quantized.modelJson.weightsManifest[0]!.weights.every((w) => w.quantization?.dtype === kind));
      const loaded = await loadOverHttp(kind, quantized);
      const tfjsQuantized = await predict(loaded);
      // Close to the float student: the weights moved by at most half a quantization step.
      const agreement = compareOutputs(reference, tfjsQuantized, 6).argmaxAgreement;
      assert.ok(agreement >= 0.95, `${kind}: agrees with the float student on ${agreement}`);

      const onnxBytes = exportOnnx(model, { quantize: kind });
      const graph = decodeOnnx(onnxBytes).graph!;
      const ops = new Set(graph.node!.map((n) => n.opType));
      assert.ok(ops.has(kind === 'uint8' ? 'DequantizeLinear' : 'Cast'), `${kind} ONNX dequantizes its weights in the graph`);
      // Weights take 2 (float16) or 1 byte (uint8) instead of 4; each tensor adds a node and its scale.
      const saved = exportOnnx(model).byteLength - onnxBytes.byteLength;
      assert.ok(saved >= model.countParams() * (kind === 'uint8' ? 2.2 : 1.6), `${kind} ONNX is ${saved} bytes smaller`);
      // Float32 compute on the dequantized weights: the same function as the quantized tfjs files.
      const exact = await openOnnx(onnxBytes, 'exact');
      const ort = await runOnnx(exact, split.x, [12, 12, 1]);
      await exact.release();
      const c = compareOutputs(tfjsQuantized, ort.values, ort.classes);
      assert.ok(c.within, `${kind}: ONNX vs tfjs max |Δ| ${c.maxAbsDiff} of ${c.maxAbs}, argmax ${c.argmaxAgreement}`);
      // As served (all optimizations: ONNX Runtime may run 8-bit kernels of its own), still the float student's classifier.
      const servedSession = await openOnnx(onnxBytes);
      const servedOut = await runOnnx(servedSession, split.x, [12, 12, 1]);
      await servedSession.release();
      const servedAgreement = compareOutputs(reference, servedOut.values, 6).argmaxAgreement;
      assert.ok(servedAgreement >= 0.95, `${kind} as served agrees with the float student on ${servedAgreement}`);
      assert.equal(argmaxRows(servedOut.values, 6).length, split.y.length);
      loaded.dispose();
    }
    model.dispose();
  });
});
