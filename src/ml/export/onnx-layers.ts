/**
 * tfjs layers → ONNX nodes, one layer at a time. tfjs images are NHWC and ONNX convolutions NCHW:
 * the value carries its layout, is transposed to NCHW on the way into a convolution or pooling and
 * back to NHWC before a flatten, so the flattened order (and so every dense kernel) stays tfjs'.
 */
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';
import type { OnnxGraph } from './onnx-graph.js';

export interface Flow {
  /** The ONNX value holding the current activations. */
  value: string;
  /** Per-sample shape in tfjs order (NHWC without N). */
  shape: number[];
  /** Only meaningful for image-shaped values: how the ONNX value is laid out. */
  layout: 'nhwc' | 'nchw';
}

/** A layer (or one of its settings) that the exporter cannot express: named, never exported wrong. */
export class ExportError extends ModelError {
  constructor(message: string) {
    super('export_unsupported', message);
  }
}

type Config = Record<string, unknown>;

const pair = (v: unknown, fallback: number): [number, number] => {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && typeof v[0] === 'number') return [v[0], typeof v[1] === 'number' ? v[1] : v[0]];
  return [fallback, fallback];
};

export function toNchw(g: OnnxGraph, f: Flow, at: string): Flow {
  if (f.shape.length !== 3 || f.layout === 'nchw') return f;
  return { ...f, value: g.node('Transpose', [f.value], `${at}/to_nchw`, { perm: [0, 3, 1, 2] }), layout: 'nchw' };
}

export function toNhwc(g: OnnxGraph, f: Flow, at: string): Flow {
  if (f.shape.length !== 3 || f.layout === 'nhwc') return f;
  return { ...f, value: g.node('Transpose', [f.value], `${at}/to_nhwc`, { perm: [0, 2, 3, 1] }), layout: 'nhwc' };
}

/** The activation functions tfjs layers can serialize, as ONNX nodes (opset 13). */
export function applyActivation(g: OnnxGraph, f: Flow, activation: string, at: string): Flow {
  const x = f.value;
  const channelAxis = f.shape.length === 3 && f.layout === 'nchw' ? 1 : -1; // tfjs applies softmax on the last (channel) axis
  const out = (value: string): Flow => ({ ...f, value });
  const name = `${at}/${activation}`;
  switch (activation) {
    case 'linear':
      return f;
    case 'relu':
      return out(g.node('Relu', [x], name));
    case 'relu6':
      return out(g.node('Clip', [x, g.constant(`${name}/min`, [0], []), g.constant(`${name}/max`, [6], [])], name));
    case 'elu':
      return out(g.node('Elu', [x], name, { alpha: { float: 1 } }));
    case 'selu':
      // tfjs' constants (those of Klambauer et al.), not ONNX's rounded defaults.
      return out(g.node('Selu', [x], name, { alpha: { float: 1.6732632423543772 }, gamma: { float: 1.0507009873554805 } }));
    case 'sigmoid':
      return out(g.node('Sigmoid', [x], name));
    case 'hardSigmoid':
      return out(g.node('HardSigmoid', [x], name, { alpha: { float: 0.2 }, beta: { float: 0.5 } }));
    case 'tanh':
      return out(g.node('Tanh', [x], name));
    case 'softplus':
      return out(g.node('Softplus', [x], name));
    case 'softsign':
      return out(g.node('Softsign', [x], name));
    case 'softmax':
      return out(g.node('Softmax', [x], name, { axis: channelAxis }));
    case 'logSoftmax':
      return out(g.node('LogSoftmax', [x], name, { axis: channelAxis }));
    case 'swish':
      return out(g.node('Mul', [x, g.node('Sigmoid', [x], `${name}/sigmoid`)], name));
    case 'mish': {
      const softplus = g.node('Softplus', [x], `${name}/softplus`);
      return out(g.node('Mul', [x, g.node('Tanh', [softplus], `${name}/tanh`)], name));
    }
    case 'gelu': {
      const erf = g.node('Erf', [g.node('Div', [x, g.constant(`${name}/sqrt2`, [Math.SQRT2], [])], `${name}/scaled`)], `${name}/erf`);
      const cdf = g.node(
        'Mul',
        [g.node('Add', [erf, g.constant(`${name}/one`, [1], [])], `${name}/plus1`), g.constant(`${name}/half`, [0.5], [])],
        `${name}/cdf`,
      );
      return out(g.node('Mul', [x, cdf], name));
    }
    default:
      throw new ExportError(`activation '${activation}' of layer ${at} cannot be exported to ONNX`);
  }
}

/** Per-side zero padding of a 'same' window, as TensorFlow places it (the odd pixel at the end). */
function samePads(size: number[], kernel: number[], strides: number[], dilations: number[]): number[] {
  const begin: number[] = [];
  const end: number[] = [];
  size.forEach((n, i) => {
    const k = (kernel[i]! - 1) * dilations[i]! + 1;
    const total = Math.max((Math.ceil(n / strides[i]!) - 1) * strides[i]! + k - n, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  });
  return [...begin, ...end];
}

/** A layer's weights by their short name (kernel, bias, gamma, beta, moving_mean, moving_variance). */
function weightsOf(layer: tf.layers.Layer): Map<string, { values: Float32Array; shape: number[] }> {
  const tensors = layer.getWeights();
  return new Map(
    layer.weights.map((w, i) => {
      const t = tensors[i]!;
      return [w.name.split('/').pop()!.replace(/_\d+$/, ''), { values: t.dataSync() as Float32Array, shape: t.shape }];
    }),
  );
}

function requireImage(layer: tf.layers.Layer, f: Flow, config: Config): void {
  if (f.shape.length !== 3)
    throw new ExportError(
      `layer ${layer.name} (${layer.getClassName()}) reads a [${f.shape}] input: only image inputs [height, width, channels] can be exported`,
    );
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') {
    throw new ExportError(`layer ${layer.name} (${layer.getClassName()}) uses dataFormat ${String(config.dataFormat)}: only channelsLast can be exported`);
  }
}

/** The nodes of one layer; `next` is the layer's tfjs output shape per sample. */
export function exportLayer(g: OnnxGraph, layer: tf.layers.Layer, f: Flow, next: number[]): Flow {
  const config = layer.getConfig() as Config;
  const at = layer.name;
  const kind = layer.getClassName();
  const w = weightsOf(layer);
  const activation = typeof config.activation === 'string' ? config.activation : 'linear';
  switch (kind) {
    case 'InputLayer':
    case 'Dropout':
      return f; // dropout is the identity at inference
    case 'Activation':
      return applyActivation(g, f, activation, at);
    case 'Flatten': {
      const flat = toNhwc(g, f, at);
      return { value: f.shape.length > 1 ? g.node('Flatten', [flat.value], at, { axis: 1 }) : flat.value, shape: next, layout: 'nhwc' };
    }
    case 'Dense': {
      const kernel = w.get('kernel')!;
      const inputs = [g.weight(`${at}/kernel`, kernel.values, kernel.shape)];
      const bias = w.get('bias');
      let value: string;
      if (f.shape.length === 1) {
        if (bias) inputs.push(g.weight(`${at}/bias`, bias.values, bias.shape));
        value = g.node('Gemm', [f.value, ...inputs], at);
      } else {
        // Keras applies a dense layer to the last axis of any input.
        const x = toNhwc(g, f, at);
        value = g.node('MatMul', [x.value, inputs[0]!], bias ? `${at}/matmul` : at);
        if (bias) value = g.node('Add', [value, g.weight(`${at}/bias`, bias.values, bias.shape)], at);
      }
      return applyActivation(g, { value, shape: next, layout: 'nhwc' }, activation, at);
    }
    case 'Conv2D': {
      requireImage(layer, f, config);
      const x = toNchw(g, f, at);
      const kernel = w.get('kernel')!;
      const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
      // tfjs [kh, kw, in, out] → ONNX [out, in, kh, kw]
      const oihw = new Float32Array(kernel.values.length);
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++)
          for (let c = 0; c < cin; c++)
            for (let o = 0; o < cout; o++) oihw[((o * cin + c) * kh + i) * kw + j] = kernel.values[((i * kw + j) * cin + c) * cout + o]!;
      const strides = pair(config.strides, 1);
      const dilations = pair(config.dilationRate, 1);
      const pads = config.padding === 'same' ? samePads(f.shape.slice(0, 2), [kh, kw], strides, dilations) : [0, 0, 0, 0];
      if (config.padding !== 'same' && config.padding !== 'valid')
        throw new ExportError(`layer ${at} (Conv2D) uses padding ${String(config.padding)}: only valid and same can be exported`);
      const inputs = [x.value, g.weight(`${at}/kernel`, oihw, [cout, cin, kh, kw])];
      const bias = w.get('bias');
      if (bias) inputs.push(g.weight(`${at}/bias`, bias.values, bias.shape));
      const value = g.node('Conv', inputs, at, { kernel_shape: [kh, kw], strides, dilations, pads, group: 1 });
      return applyActivation(g, { value, shape: next, layout: 'nchw' }, activation, at);
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      requireImage(layer, f, config);
      const x = toNchw(g, f, at);
      const kernel = pair(config.poolSize, 2);
      const strides = pair(config.strides ?? config.poolSize, 2);
      const pads = config.padding === 'same' ? samePads(f.shape.slice(0, 2), kernel, strides, [1, 1]) : [0, 0, 0, 0];
      // AveragePool leaves the padding out of the count (count_include_pad 0), as TensorFlow does.
      const value = g.node(kind === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x.value], at, { kernel_shape: kernel, strides, pads });
      return { value, shape: next, layout: 'nchw' };
    }
    case 'BatchNormalization': {
      const axis = typeof config.axis === 'number' ? config.axis : -1;
      if (axis !== -1 && axis !== f.shape.length)
        throw new ExportError(`layer ${at} (BatchNormalization) normalizes axis ${axis}: only the last (channel) axis can be exported`);
      if (f.shape.length !== 1 && f.shape.length !== 3)
        throw new ExportError(`layer ${at} (BatchNormalization) reads a [${f.shape}] input: only flat or image inputs can be exported`);
      const x = toNchw(g, f, at);
      const channels = f.shape[f.shape.length - 1]!;
      const param = (key: string, fill: number) => {
        const p = w.get(key);
        return p ? g.weight(`${at}/${key}`, p.values, [channels]) : g.constant(`${at}/${key}`, new Float32Array(channels).fill(fill), [channels]);
      };
      const inputs = [x.value, param('gamma', 1), param('beta', 0), param('moving_mean', 0), param('moving_variance', 1)];
      const epsilon = typeof config.epsilon === 'number' ? config.epsilon : 1e-3;
      return { ...x, value: g.node('BatchNormalization', inputs, at, { epsilon: { float: epsilon } }), shape: next };
    }
    default:
      throw new ExportError(
        `layer ${at} (${kind}) cannot be exported to ONNX: the exporter knows Dense, Conv2D, MaxPooling2D, AveragePooling2D, BatchNormalization, Dropout, Flatten and Activation`,
      );
  }
}
