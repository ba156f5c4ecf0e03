/**
 * Whether an ONNX model can be a teacher, checked with onnxruntime itself: it loads; it has one float
 * input whose batch dimension is dynamic or 1 and whose sample shape an image or tabular dataset can
 * have; one output of class scores per sample; a standard opset onnxruntime runs; its weights inside the
 * file. Anything else is refused with the reason and a message that names the problem.
 */
import * as ort from 'onnxruntime-node';
import { ModelError } from '../errors.js';
import { channelsOf, type OnnxInputDeclaration, type OnnxModelFacts } from './declaration.js';
import { type OnnxFacts, OnnxProtoError, readOnnxFacts } from './onnx-proto.js';

/** onnxruntime 1.31 runs the standard operator sets 7 to 26 (it refuses later ones, and runs earlier ones only partly). */
export const MIN_OPSET = 7;
export const MAX_OPSET = 26;
/** Largest sample dimension and number of classes a teacher may have. */
const MAX_DIM = 4096;
const MAX_CLASSES = 100_000;

/** Why an ONNX model cannot be a teacher; `reason` is stable (unloadable, several_inputs, …). */
export class OnnxRefusal extends ModelError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super('invalid_model', message);
  }
}

/** Options shared by every session: quiet (the checks say what is wrong), CPU. */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3, executionProviders: ['cpu'] };

export async function openOnnxSession(bytes: Uint8Array, threads?: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { ...SESSION_OPTIONS, ...(threads ? { intraOpNumThreads: threads } : {}) });
}

/** Checks the model against what a teacher must be; returns what the engine needs to run it. */
export async function inspectOnnx(bytes: Uint8Array, declared: OnnxInputDeclaration): Promise<OnnxModelFacts> {
  let proto: OnnxFacts;
  try {
    proto = readOnnxFacts(bytes);
  } catch (err) {
    throw new OnnxRefusal('unloadable', `the file is not an ONNX model: ${err instanceof OnnxProtoError ? err.message : 'its protobuf cannot be read'}`);
  }
  if (proto.external.length > 0) {
    throw new OnnxRefusal(
      'external_weights',
      `the model keeps weights in external files (${proto.external.slice(0, 3).join(', ')}): export them inside the .onnx file (torch.onnx.export does so below 2 GiB)`,
    );
  }
  const standard = proto.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!standard) throw new OnnxRefusal('unsupported_opset', 'the model imports no standard ONNX operator set (domain ai.onnx)');
  if (standard.version < MIN_OPSET || standard.version > MAX_OPSET) {
    throw new OnnxRefusal(
      'unsupported_opset',
      `the model uses ONNX opset ${standard.version}; the server's onnxruntime runs opsets ${MIN_OPSET} to ${MAX_OPSET}: export with opset_version between them`,
    );
  }
  let session: ort.InferenceSession;
  try {
    session = await openOnnxSession(bytes, 1);
  } catch (err) {
    throw new OnnxRefusal('unloadable', `onnxruntime cannot load the model: ${firstLine(err)}`);
  }
  try {
    return { ...checkSignature(session, declared), declared, opset: standard.version, parameters: proto.parameters };
  } finally {
    await session.release();
  }
}

function checkSignature(session: ort.InferenceSession, declared: OnnxInputDeclaration) {
  const inputs = session.inputMetadata;
  const outputs = session.outputMetadata;
  if (inputs.length !== 1)
    throw new OnnxRefusal(
      'several_inputs',
      `the model has ${inputs.length} inputs (${inputs
        .map((i) => i.name)
        .slice(0, 4)
        .join(', ')}): a teacher reads one input tensor`,
    );
  const input = inputs[0]!;
  if (!input.isTensor) throw new OnnxRefusal('unsupported_input', `input ${input.name} is not a tensor: a teacher reads one float tensor`);
  if (input.type !== 'float32')
    throw new OnnxRefusal(
      'non_float_input',
      `input ${input.name} holds ${input.type} values: a teacher reads float32 (export with a float input and cast inside the model)`,
    );
  if (outputs.length !== 1)
    throw new OnnxRefusal(
      'several_outputs',
      `the model has ${outputs.length} outputs (${outputs
        .map((o) => o.name)
        .slice(0, 4)
        .join(', ')}): a teacher has one output of class scores`,
    );
  const output = outputs[0]!;
  if (!output.isTensor || output.type !== 'float32')
    throw new OnnxRefusal('unsupported_output', `output ${output.name} is not a float32 tensor: a teacher outputs float class scores`);

  const batchProblem = (dims: ReadonlyArray<number | string>, what: string) => {
    const batch = dims[0];
    return typeof batch === 'number' && batch !== 1
      ? `${what}'s first (batch) dimension is fixed at ${batch}: export with a dynamic batch axis (dynamic_axes={'${what === 'input' ? input.name : output.name}': {0: 'batch'}}) or a batch of 1`
      : undefined;
  };
  const inDims = input.shape;
  if (inDims.length < 2 || inDims.length > 4) {
    throw new OnnxRefusal(
      'unsupported_shape',
      `input ${input.name} has shape [${inDims.join(', ')}]: no dataset has samples of rank ${Math.max(0, inDims.length - 1)}; a teacher reads [batch, features], [batch, height, width] or images of [batch, channels, height, width] (or NHWC)`,
    );
  }
  const batch = batchProblem(inDims, 'input');
  if (batch) throw new OnnxRefusal('fixed_batch', batch);
  const modelShape = inDims.slice(1).map((d, i) => {
    if (typeof d !== 'number')
      throw new OnnxRefusal(
        'dynamic_sample_shape',
        `input ${input.name}'s dimension ${i + 1} is dynamic (${d}): a teacher reads samples of one fixed shape; only the batch dimension may be dynamic`,
      );
    if (d < 1 || d > MAX_DIM)
      throw new OnnxRefusal('unsupported_shape', `input ${input.name}'s dimension ${i + 1} is ${d}: sample dimensions are 1 to ${MAX_DIM}`);
    return d;
  });
  const outDims = output.shape;
  const classes = outDims[1];
  if (outDims.length !== 2 || typeof classes !== 'number' || classes < 2 || classes > MAX_CLASSES) {
    throw new OnnxRefusal(
      'not_class_scores',
      `output ${output.name} has shape [${outDims.join(', ')}]: a teacher outputs [batch, classes] with a fixed number of classes (2 to ${MAX_CLASSES})`,
    );
  }
  const outBatch = batchProblem(outDims, 'output');
  if (outBatch) throw new OnnxRefusal('fixed_batch', outBatch);
  const sampleShape = toSampleShape(modelShape, declared.layout);
  const channels = channelsOf(sampleShape);
  for (const [name, values] of [
    ['mean', declared.mean],
    ['std', declared.std],
  ] as const) {
    if (values.length !== 1 && values.length !== channels) {
      throw new OnnxRefusal(
        'declaration_mismatch',
        `${name} gives ${values.length} values but the model's input has ${channels} ${sampleShape.length === 1 ? 'features' : 'channels'} (layout ${declared.layout}): give one value, or one per ${sampleShape.length === 1 ? 'feature' : 'channel'}`,
      );
    }
  }
  return { inputName: input.name, outputName: output.name, modelShape, sampleShape, classes };
}

/** The dataset's view of one sample: [features], [height, width, 1] or [height, width, channels]. */
export function toSampleShape(modelShape: readonly number[], layout: OnnxInputDeclaration['layout']): number[] {
  if (modelShape.length === 1) return [modelShape[0]!];
  if (modelShape.length === 2) return [modelShape[0]!, modelShape[1]!, 1];
  const [a, b, c] = modelShape as [number, number, number];
  return layout === 'nchw' ? [b, c, a] : [a, b, c];
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // onnxruntime prefixes its own source location: the person needs what follows it.
  return message
    .replace(/^\S+\.(cc|h):\d+\s+[^\]]*?\)\s*/, '')
    .split('\n')[0]!
    .slice(0, 300);
}
