/**
 * Models to and from bytes in the tfjs layers format without tfjs-node: model.json (format
 * layers-model, weightsManifest naming weights.bin) plus one weights.bin buffer. Served together
 * over HTTP they load with tf.loadLayersModel(url) in any tfjs runtime.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelArtifacts, ModelJson, WeightsManifestEntry } from './artifacts.js';

export type { ModelArtifacts, ModelJson } from './artifacts.js';

// Our manifest entry is tfjs' own, restated so the API can read model.json without loading tfjs: a
// tfjs upgrade that changes it fails to compile here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const manifestEntryMatchesTfjs: Same<WeightsManifestEntry, tf.io.WeightsManifestEntry> = true;
void manifestEntryMatchesTfjs;

/** Copies a (possibly pooled) byte view into its own ArrayBuffer, as tfjs reads whole buffers. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export async function modelToArtifacts(model: tf.LayersModel): Promise<ModelArtifacts> {
  let saved: ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(Array.isArray(a.weightData) ? a.weightData : [a.weightData]);
      saved = {
        modelJson: {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: null,
          modelTopology: a.modelTopology as object,
          weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }],
        },
        weights: new Uint8Array(data),
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('tfjs did not hand over the model artifacts');
  return saved;
}

export async function artifactsToModel(a: ModelArtifacts): Promise<tf.LayersModel> {
  const json = a.modelJson as Partial<ModelJson>;
  const weightSpecs = (json.weightsManifest ?? []).flatMap((group) => group.weights);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology ?? {}, weightSpecs, weightData: ownBuffer(a.weights) }));
}

/** Size of the serialized model: model.json text plus weights.bin. */
export function artifactsBytes(a: ModelArtifacts): number {
  return Buffer.byteLength(JSON.stringify(a.modelJson)) + a.weights.byteLength;
}
