/**
 * A small builder for one ONNX graph: nodes in order, initializers, unique value names, and weights
 * stored as float32, float16 (+ Cast) or 8-bit affine (+ DequantizeLinear). Encoded with the ONNX
 * message types of `onnx-proto` (generated from the official onnx.proto).
 */
import onnxProto from 'onnx-proto';
import type { Quantization } from './quantize.js';
import { quantizeUint8, toFloat16 } from './quantize-math.js';

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

/** Opset 13: Softmax over one axis, Clip with min/max inputs, DequantizeLinear per tensor. */
export const OPSET = 13;
/** IR version 7 is what opset 13 ships with; every runtime that reads opset 13 reads it. */
const IR_VERSION = 7;
const { DataType } = onnx.TensorProto;

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

function attribute(name: string, v: AttrValue): AttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return { name, type: AttributeType.INT, i: v };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class OnnxGraph {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  constructor(private readonly quantize?: Quantization) {}

  /** A value name not used yet, derived from `base`. */
  name(base: string): string {
    let candidate = base.replace(/[^A-Za-z0-9_./:-]/g, '_');
    for (let k = 1; this.used.has(candidate); k++) candidate = `${base}_${k}`;
    this.used.add(candidate);
    return candidate;
  }

  /** Appends a node; returns its (first) output's name. */
  node(op: string, inputs: string[], out: string, attrs: Record<string, AttrValue> = {}): string {
    const output = this.name(out);
    this.nodes.push({ opType: op, name: output, input: inputs, output: [output], attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return output;
  }

  /** A float32 constant kept exact whatever the quantization (shapes, clip bounds). */
  constant(base: string, values: number[] | Float32Array, dims: number[]): string {
    const name = this.name(base);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, rawData: bytesOf(Float32Array.from(values)) });
    return name;
  }

  int64s(base: string, values: number[]): string {
    const name = this.name(base);
    this.initializers.push({ name, dataType: DataType.INT64, dims: [values.length], rawData: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))) });
    return name;
  }

  /** A trained weight: stored per the graph's quantization, and dequantized to float32 in the graph. */
  weight(base: string, values: Float32Array, dims: number[]): string {
    if (!this.quantize) return this.constant(base, values, dims);
    if (this.quantize === 'float16') {
      const stored = this.name(`${base}_fp16`);
      this.initializers.push({ name: stored, dataType: DataType.FLOAT16, dims, rawData: bytesOf(toFloat16(values)) });
      return this.node('Cast', [stored], base, { to: DataType.FLOAT });
    }
    const q = quantizeUint8(values);
    const stored = this.name(`${base}_quantized`);
    this.initializers.push({ name: stored, dataType: DataType.UINT8, dims, rawData: q.values });
    const scale = this.name(`${base}_scale`);
    this.initializers.push({ name: scale, dataType: DataType.FLOAT, dims: [], rawData: bytesOf(Float32Array.of(q.scale)) });
    const zeroPoint = this.name(`${base}_zero_point`);
    this.initializers.push({ name: zeroPoint, dataType: DataType.UINT8, dims: [], rawData: Uint8Array.of(q.zeroPoint) });
    return this.node('DequantizeLinear', [stored, scale, zeroPoint], base);
  }

  /** The whole model as ONNX protobuf bytes: one float32 input and one float32 output, batch dimension named N. */
  encode(o: { graphName: string; input: string; inputShape: number[]; output: string; outputShape: number[]; producer: string; doc: string }): Uint8Array {
    const valueInfo = (name: string, dims: number[]) => ({
      name,
      type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, ...dims.map((d) => ({ dimValue: d }))] } } },
    });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'distill-server',
      producerVersion: o.producer,
      docString: o.doc,
      graph: {
        name: o.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: [valueInfo(o.input, o.inputShape)],
        output: [valueInfo(o.output, o.outputShape)],
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Decodes ONNX bytes (tests and checks read back what was written). */
export function decodeOnnx(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
