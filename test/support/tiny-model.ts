/**
 * model.json and weights.bin of a tiny tfjs layers model (4 inputs, 2 logits), as an upload sends them;
 * `leakyRelu` adds a LeakyReLU layer named leaky (one the ONNX exporter does not know).
 */
export async function tinyModel(options: { leakyRelu?: boolean } = {}): Promise<{ json: string; weights: Buffer }> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const dense = tf.layers.dense({ inputShape: [4], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
  const model = tf.sequential({ layers: options.leakyRelu ? [dense, tf.layers.leakyReLU({ name: 'leaky' })] : [dense] });
  let saved: { json: string; weights: Buffer } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = {
        json: JSON.stringify({
          format: 'layers-model',
          generatedBy: 'distill-server tests',
          convertedBy: null,
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
        weights: Buffer.from(artifacts.weightData as ArrayBuffer),
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return saved!;
}
