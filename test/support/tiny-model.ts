/** model.json and weights.bin of a tiny tfjs layers model (4 inputs, 2 logits), as an upload sends them. */
export async function tinyModel(): Promise<{ json: string; weights: Buffer }> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })] });
  let saved: { json: string; weights: Buffer } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = {
        json: JSON.stringify({ format: 'layers-model', generatedBy: 'distill-server tests', convertedBy: null, modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }),
        weights: Buffer.from(artifacts.weightData as ArrayBuffer),
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return saved!;
}
