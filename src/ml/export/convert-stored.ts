/**
 * Exports of a stored model without its job's data: after the fact, for a finished job or an
 * uploaded model. The ONNX file is still checked against tfjs before it is handed out, on seeded
 * uniform [0, 1) inputs of the model's shape (what the data's pixels and features usually are).
 */
import * as tf from '@tensorflow/tfjs';
import { artifactsToModel, type ModelArtifacts } from '../models/serialize.js';
import type { ResolvedExport } from '../spec-export.js';
import type { ExportFile } from './job-exports.js';
import { exportOnnx, ExportError } from './onnx-export.js';
import { openOnnx, runOnnx } from './onnx-run.js';
import { compareOutputs, MIN_ARGMAX_AGREEMENT, RELATIVE_TOLERANCE } from './onnx-verify.js';
import { quantizeArtifacts, type Quantization } from './quantize.js';

const CHECK_SAMPLES = 64;

/**
 * The model's ONNX export (with `quantize`, its quantized one), refused (ExportError) unless ONNX
 * Runtime reproduces tfjs with the float export on check inputs.
 */
export async function checkedOnnxOf(model: tf.LayersModel, quantize?: Quantization): Promise<Uint8Array> {
  const bytes = exportOnnx(model);
  const shape = (model.inputs[0]!.shape as number[]).slice(1);
  const x = tf.randomUniform([CHECK_SAMPLES, ...shape], 0, 1, 'float32', 7);
  const out = model.predict(x) as tf.Tensor;
  const [values, reference] = [(await x.data()) as Float32Array, (await out.data()) as Float32Array];
  tf.dispose([x, out]);
  const session = await openOnnx(bytes);
  try {
    const onnx = await runOnnx(session, values, shape);
    const c = compareOutputs(reference, onnx.values, onnx.classes);
    if (!c.within)
      throw new ExportError(
        `the ONNX export of model ${model.name} does not reproduce it: max |Δ| ${c.maxAbsDiff} (allowed ${RELATIVE_TOLERANCE} × ${c.maxAbs}), same class on ${c.argmaxAgreement} (needed ${MIN_ARGMAX_AGREEMENT})`,
      );
    return quantize ? exportOnnx(model, { quantize }) : bytes;
  } finally {
    await session.release();
  }
}

/**
 * The files `request` asks for of one stored model, under artifact kind `kind` (quantized variants
 * under `<kind>-float16` / `<kind>-uint8`, only when `quantizeIt`).
 */
export async function exportStored(a: ModelArtifacts, kind: string, request: ResolvedExport, quantizeIt: boolean): Promise<ExportFile[]> {
  const onnx = request.formats.includes('onnx');
  const model = await artifactsToModel(a);
  try {
    const files: ExportFile[] = [];
    if (onnx) files.push({ kind, file: 'model.onnx', data: await checkedOnnxOf(model) });
    for (const q of quantizeIt ? request.quantize : []) {
      const quantized = quantizeArtifacts(a, q);
      files.push({ kind: `${kind}-${q}`, file: 'model.json', data: new TextEncoder().encode(JSON.stringify(quantized.modelJson)) });
      files.push({ kind: `${kind}-${q}`, file: 'weights.bin', data: quantized.weights });
      if (onnx) files.push({ kind: `${kind}-${q}`, file: 'model.onnx', data: exportOnnx(model, { quantize: q }) });
    }
    return files;
  } finally {
    model.dispose();
  }
}
