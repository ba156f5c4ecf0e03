/**
 * The upload check child's half of an ONNX upload: the stored file checked with onnxruntime. It loads the
 * engine (src/ml/index.ts), so only the check child imports it; the API records uploads with ./onnx-models.ts.
 */
import { inspectOnnx, type OnnxInputDeclaration, type OnnxModelFacts, OnnxRefusal } from '../ml/index.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import { ONNX_FILE } from './onnx-models.js';

/** The upload-check child's half: reads the stored file and checks it with onnxruntime. */
export async function checkStoredOnnx(store: ArtifactStore, key: string, declared: OnnxInputDeclaration): Promise<OnnxModelFacts> {
  try {
    return await inspectOnnx(new Uint8Array(await store.get(`${key}/${ONNX_FILE}`)), declared);
  } catch (err) {
    if (err instanceof OnnxRefusal) throw new ResourceError(400, 'invalid_model', err.message, err.reason);
    throw err;
  }
}
