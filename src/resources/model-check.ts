/**
 * Loads a model to describe it, and refuses one a job cannot use: it does not load, has other than
 * one input and one output, or holds weights that are not finite. This loads tfjs, so only the
 * processes that may (the upload check child, the training child) import it; the API checks an
 * upload's files without it (./model-files.ts).
 */
import { createHash } from 'node:crypto';
import { artifactsToModel, type ModelArtifacts, tf } from '../ml/index.js';
import { invalidModel, MAX_ABS_WEIGHT, MAX_RANK, type ModelDescription, modelFiles, short } from './model-files.js';

/** Loads the model to describe it; a model that does not load, or that a job cannot use, is refused. */
export async function describeModel(artifacts: ModelArtifacts): Promise<ModelDescription> {
  // The upload check child has not picked a backend: tfjs takes its best registered one (cpu).
  await tf.ready();
  let model: tf.LayersModel;
  try {
    model = await artifactsToModel(artifacts);
  } catch (err) {
    throw invalidModel('unloadable', `model.json does not load as a tfjs layers model: ${(err as Error).message.slice(0, 300)}`);
  }
  try {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw invalidModel('unsupported_shape', `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs: a teacher has one of each`);
    }
    const inputShape = model.inputs[0]!.shape.slice(1);
    const outputShape = model.outputs[0]!.shape.slice(1);
    if (inputShape.length > MAX_RANK)
      throw invalidModel('unsupported_shape', `the model reads inputs of rank ${inputShape.length}: a teacher reads at most ${MAX_RANK} dimensions`);
    checkWeightValues(model);
    if (inputShape.some((d) => d === null) || outputShape.length !== 1 || outputShape[0] === null) {
      throw invalidModel(
        'unsupported_shape',
        `the model reads [${inputShape.map((d) => d ?? '?')}] and outputs [${outputShape.map((d) => d ?? '?')}]: a teacher reads a fixed shape and outputs one value per class`,
      );
    }
    const files = modelFiles(artifacts);
    return {
      inputShape: inputShape as number[],
      outputShape: outputShape as number[],
      parameters: model.countParams(),
      bytes: files.modelJson.length + files.weights.length,
      sha256: createHash('sha256').update(files.modelJson).update(files.weights).digest('hex'),
    };
  } finally {
    model.dispose();
  }
}

/**
 * NaN, infinite or absurdly large weights (stored, or produced by quantization) make a teacher whose
 * soft targets are NaN: every job distilling from it would fail, or worse, "succeed" with NaN losses.
 */
function checkWeightValues(model: tf.LayersModel): void {
  for (const weight of model.weights) {
    const values = weight.read().dataSync();
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isFinite(v) && Math.abs(v) <= MAX_ABS_WEIGHT) continue;
      const what = Number.isFinite(v) ? v.toPrecision(3) : String(v);
      throw invalidModel(
        'non_finite_weights',
        `weight ${short(weight.originalName ?? weight.name, 60)} holds ${what} at index ${i}: a teacher's weights must be finite numbers within ±${MAX_ABS_WEIGHT}`,
      );
    }
  }
}
