/**
 * An ONNX teacher in a job. Its outputs are all a logit-distilling job needs of it, so onnxruntime runs
 * it once over the training and test splits (in batches) before anything trains. To the rest of the
 * engine it is then a tfjs model like any other: a parameter-free identity whose "inputs" are those
 * precomputed scores, so cached or per-batch soft targets, evaluation, ensembles and agreement all work
 * unchanged. What the report says of it (parameters from the graph's initializers, bytes of the .onnx
 * file, latency) comes from onnxruntime, not from the stand-in.
 */
import * as tf from '@tensorflow/tfjs';
import { adaptInputs } from '../data/adapt.js';
import { planAdapt } from '../data/adapt-plan.js';
import type { SplitDataset, Samples } from '../data/types.js';
import { ModelError, SpecError, type SpecProblem } from '../errors.js';
import type { BuiltModel, SplitTensors, TensorOwner } from '../job-tensors.js';
import type { OnnxModelFacts } from './declaration.js';
import type { GivenModelFacts, OnnxModelSource } from './teacher-checks.js';
import { inspectOnnx, OnnxRefusal } from './inspect.js';
import { OnnxRunner } from './runner.js';

export async function loadOnnxTeacher(
  id: string,
  source: OnnxModelSource,
  split: SplitDataset,
  owner: TensorOwner,
  problems: SpecProblem[],
): Promise<{ built: BuiltModel; precomputed: SplitTensors }> {
  if (problems.length > 0) throw new SpecError(problems);
  let facts: OnnxModelFacts;
  try {
    facts = await inspectOnnx(source.bytes, source.declared);
  } catch (err) {
    if (err instanceof OnnxRefusal) throw new ModelError('model_unreadable', `teacher model "${id}" cannot be run: ${err.message}`);
    throw err;
  }
  const classes = split.classNames.length;
  if (facts.classes !== classes)
    throw new ModelError('model_shape_mismatch', `teacher model "${id}" outputs ${facts.classes} class scores but the dataset has ${classes} classes`);
  if (!planAdapt(split.shape, facts.sampleShape)) {
    throw new ModelError(
      'model_shape_mismatch',
      `teacher model "${id}" reads samples of shape [${facts.sampleShape}] (${facts.declared.layout} [${facts.modelShape}]), which dataset samples of shape [${split.shape}] cannot be resized to`,
    );
  }
  const runner = await OnnxRunner.open(source.bytes, facts);
  owner.own({ dispose: () => void runner.release() });
  const scores = async (s: Samples) => {
    const count = s.y.length;
    return owner.own(tf.tensor2d(await runner.logits(samplesAt(s, split.shape, facts.sampleShape), count), [count, classes]));
  };
  const precomputed: SplitTensors = {
    train: await scores(split.train),
    // A given teacher never sees the validation split (it is not trained here).
    validation: owner.own(tf.zeros([split.validation.y.length, classes])),
    test: await scores(split.test),
  };
  const model = tf.sequential({ layers: [tf.layers.activation({ activation: 'linear', inputShape: [classes] })] });
  owner.own(model);
  const given: GivenModelFacts = {
    format: 'onnx',
    inputShape: facts.sampleShape,
    parameters: facts.parameters,
    bytes: runner.bytes,
    latency: () => runner.latency(),
  };
  return { built: { model, inputShape: [classes], macs: facts.parameters, given }, precomputed };
}

/** Samples at the teacher's sample shape (resized as the engine resizes for tfjs teachers). */
function samplesAt(s: Samples, from: readonly number[], to: readonly number[]): Float32Array {
  if (planAdapt(from, to)?.kind === 'same') return s.x;
  return tf.tidy(() => adaptInputs(tf.tensor(s.x, [s.y.length, ...from]), to).dataSync() as Float32Array);
}
