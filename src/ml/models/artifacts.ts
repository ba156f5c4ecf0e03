/**
 * A model's files in the tfjs layers format, as plain data: the API checks and stores uploads of them
 * without loading tfjs. ./serialize.ts turns them into models and back (and checks that these types
 * still match tfjs' own).
 */
export interface ModelArtifacts {
  /** The tfjs layers-model model.json, with weightsManifest [{ paths: ['weights.bin'], weights }]. */
  modelJson: ModelJson;
  /** The content of weights.bin. */
  weights: Uint8Array;
}

export interface ModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
}

/** One weight in model.json's weightsManifest: tfjs' `io.WeightsManifestEntry`, field for field. */
export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  group?: 'model' | 'optimizer';
  quantization?: { scale?: number; min?: number; dtype: 'uint16' | 'uint8' | 'float16' };
}
