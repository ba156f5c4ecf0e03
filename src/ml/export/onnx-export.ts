/**
 * A tfjs layers model → an ONNX model (opset 13) computing the same function: input `input`
 * [N, ...sample shape] in tfjs' NHWC order, output `output` [N, classes] (what the tfjs model outputs:
 * logits, or probabilities for a model ending in softmax). Weights float32, float16 or 8-bit.
 * A layer the exporter cannot express throws ExportError naming it.
 */
import * as tf from '@tensorflow/tfjs';
import { planAdapt } from '../data/adapt-plan.js';
import { OnnxGraph } from './onnx-graph.js';
import { ExportError, exportLayer, toNhwc, type Flow } from './onnx-layers.js';
import type { Quantization } from './quantize.js';

export { ExportError } from './onnx-layers.js';

export interface OnnxExportOptions {
  /** Weights as stored: float32 (default), float16 or 8-bit affine per tensor. */
  quantize?: Quantization;
  /**
   * The sample shape the exported model reads, when it differs from the model's own: the graph then
   * starts with the engine's input adaptation (a reshape, or a bilinear resize with aligned corners),
   * so it takes the dataset's samples as they are.
   */
  readShape?: readonly number[];
}

const sampleShape = (model: tf.LayersModel) => (model.inputs[0]!.shape as Array<number | null>).slice(1);

/** Sequential only: each layer takes the one before it (every model the engine builds or accepts is). */
function layerChain(model: tf.LayersModel): tf.layers.Layer[] {
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw new ExportError(
      `model ${model.name} has ${model.inputs.length} inputs and ${model.outputs.length} outputs: only single-input, single-output models can be exported`,
    );
  for (const [i, layer] of model.layers.entries()) {
    const inbound = layer.inboundNodes.flatMap((n) => n.inboundLayers);
    const previous = model.layers[i - 1];
    if (i > 0 && (inbound.length !== 1 || inbound[0] !== previous))
      throw new ExportError(`layer ${layer.name} is not fed by the layer before it: only sequential models can be exported`);
  }
  return model.layers;
}

export function exportOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const own = sampleShape(model);
  if (own.some((d) => d === null)) throw new ExportError(`model ${model.name} reads samples of shape [${own}]: only fixed sample shapes can be exported`);
  const modelShape = own as number[];
  const layers = layerChain(model);
  const g = new OnnxGraph(options.quantize);
  const input = g.name('input');
  const readShape = options.readShape ? [...options.readShape] : modelShape;
  let flow: Flow = { value: input, shape: readShape, layout: 'nhwc' };
  flow = adaptInput(g, flow, modelShape);
  for (const layer of layers) flow = exportLayer(g, layer, flow, (layer.outputShape as number[]).slice(1));
  flow = toNhwc(g, flow, 'output');
  const output = g.node('Identity', [flow.value], 'output');
  const producer = `tfjs-layers ${tf.version_layers}`;
  const doc = `Exported from the tfjs layers model ${model.name}${options.quantize ? ` with ${options.quantize} weights` : ''}. Input NHWC as in tfjs.`;
  return g.encode({ graphName: model.name, input, inputShape: readShape, output, outputShape: flow.shape, producer, doc });
}

/** The engine's input adaptation (data/adapt.ts) as graph nodes. */
function adaptInput(g: OnnxGraph, f: Flow, to: number[]): Flow {
  const plan = planAdapt(f.shape, to);
  if (!plan) throw new ExportError(`inputs of shape [${f.shape}] cannot be adapted to the model's [${to}]`);
  if (plan.kind === 'same') return f;
  const reshape = (value: string, shape: number[], at: string) => g.node('Reshape', [value, g.int64s(`${at}/shape`, [-1, ...shape])], at);
  if (plan.kind === 'reshape') return { value: reshape(f.value, to, 'input/reshape'), shape: to, layout: 'nhwc' };
  const images = reshape(f.value, plan.from, 'input/as_image');
  const nchw = g.node('Transpose', [images], 'input/to_nchw', { perm: [0, 3, 1, 2] });
  // sizes = [N, C] of the input (N is only known at run time) + the target height and width.
  const batchAndChannels = g.node('Slice', [g.node('Shape', [nchw], 'input/shape'), g.int64s('input/zero', [0]), g.int64s('input/two', [2])], 'input/n_c');
  const sizes = g.node('Concat', [batchAndChannels, g.int64s('input/target_hw', [plan.to[0], plan.to[1]])], 'input/sizes', { axis: 0 });
  const resized = g.node('Resize', [nchw, '', '', sizes], 'input/resize', { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
  const nhwc = g.node('Transpose', [resized], 'input/to_nhwc', { perm: [0, 2, 3, 1] });
  return { value: reshape(nhwc, to, 'input/reshape'), shape: to, layout: 'nhwc' };
}
