// Models to bytes and back without tfjs-node: identical predictions, and the files load over HTTP
// with tf.loadLayersModel(url) like any tfjs model.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { buildModel } from '../../src/ml/models/build.js';
import { modelLayers } from '../../src/ml/models/presets.js';
import { artifactsToModel, modelToArtifacts } from '../../src/ml/models/serialize.js';

before(async () => {
  await initBackend('wasm');
});

const predict = (model: tf.LayersModel, x: tf.Tensor) => tf.tidy(() => Array.from((model.predict(x) as tf.Tensor).dataSync()));

describe('model serialization', () => {
  it('round-trips a CNN with batch norm and dropout to identical predictions', async () => {
    const layers = [...modelLayers({ preset: 'cnn-student' }, [12, 12, 1], 5)];
    layers.splice(1, 0, { type: 'batchNormalization' });
    const model = buildModel(layers, [12, 12, 1], 'rt', 3);
    const x = tf.randomUniform([4, 12, 12, 1], 0, 1, 'float32', 1);
    const artifacts = await modelToArtifacts(model);
    assert.equal(artifacts.modelJson.format, 'layers-model');
    assert.deepEqual(artifacts.modelJson.weightsManifest[0]!.paths, ['weights.bin']);
    assert.equal(artifacts.weights.byteLength, model.countParams() * 4, 'weights.bin holds every weight (float32), moving statistics included');
    const copy = await artifactsToModel(artifacts);
    assert.deepEqual(predict(copy, x), predict(model, x));
    model.dispose();
    copy.dispose();
    x.dispose();
  });

  it('serves model.json + weights.bin over HTTP for tf.loadLayersModel(url)', async () => {
    const model = buildModel(modelLayers({ preset: 'mlp-tiny' }, [6], 3), [6], 'http', 5);
    const artifacts = await modelToArtifacts(model);
    const server = createServer((req, res) => {
      if (req.url === '/m/model.json') res.end(JSON.stringify(artifacts.modelJson));
      else if (req.url === '/m/weights.bin') res.end(Buffer.from(artifacts.weights));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const loaded = await tf.loadLayersModel(`http://127.0.0.1:${port}/m/model.json`);
      const x = tf.tensor2d([
        [1, 2, 3, 4, 5, 6],
        [0, -1, 0, 1, 0, -1],
      ]);
      assert.deepEqual(predict(loaded, x), predict(model, x));
      loaded.dispose();
      x.dispose();
    } finally {
      server.close();
      model.dispose();
    }
  });
});
