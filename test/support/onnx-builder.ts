/**
 * Small ONNX models written byte by byte (onnx.proto3's wire format), for the refusals an upload check
 * must make: several inputs, integer inputs, an opset onnxruntime does not know, shapes no dataset has.
 * The real teacher fixture is exported by PyTorch (test/fixtures/onnx/).
 */

export const ELEM = { float: 1, int32: 6, int64: 7, double: 11 } as const;

export interface ValueSpec {
  name: string;
  elem?: number;
  /** A number is a fixed dimension, a string a named (dynamic) one. */
  dims: Array<number | string>;
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  ints?: Record<string, number>;
}

export interface OnnxSpec {
  opset?: number;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: Array<{ name: string; dims: number[]; values: Float32Array }>;
}

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

const int = (field: number, n: number | bigint) => [...varint((field << 3) | 0), ...varint(n)];
const bytes = (field: number, data: ArrayLike<number>) => [...varint((field << 3) | 2), ...varint(data.length), ...Array.from(data)];
const str = (field: number, s: string) => bytes(field, new TextEncoder().encode(s));

function valueInfo(v: ValueSpec): number[] {
  const dims = v.dims.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  const tensorType = [...int(1, v.elem ?? ELEM.float), ...bytes(2, dims)];
  return [...str(1, v.name), ...bytes(2, bytes(1, tensorType))];
}

function node(n: NodeSpec): number[] {
  const attrs = Object.entries(n.ints ?? {}).flatMap(([name, value]) => bytes(5, [...str(1, name), ...int(3, value), ...int(20, 2)]));
  return [...n.inputs.flatMap((i) => str(1, i)), ...n.outputs.flatMap((o) => str(2, o)), ...str(4, n.op), ...attrs];
}

export function onnxModel(spec: OnnxSpec): Uint8Array {
  const initializers = (spec.initializers ?? []).map((t) => {
    const raw = new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength);
    return bytes(5, [...t.dims.flatMap((d) => int(1, d)), ...int(2, ELEM.float), ...str(8, t.name), ...bytes(9, raw)]);
  });
  const graph = [
    ...spec.nodes.flatMap((n) => bytes(1, node(n))),
    ...str(2, 'test'),
    ...initializers.flat(),
    ...spec.inputs.flatMap((v) => bytes(11, valueInfo(v))),
    ...spec.outputs.flatMap((v) => bytes(12, valueInfo(v))),
  ];
  return Uint8Array.from([...int(1, 8), ...str(2, 'distill-test'), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, spec.opset ?? 13)])]);
}

/** A linear classifier over `features` inputs into `classes` scores: x·W + b, batch dimension dynamic. */
export function linearClassifier(features: number, classes: number, overrides: Partial<OnnxSpec> = {}): Uint8Array {
  const w = Float32Array.from({ length: features * classes }, (_, i) => ((i * 7) % 11) / 11 - 0.5);
  return onnxModel({
    inputs: [{ name: 'x', dims: ['batch', features] }],
    outputs: [{ name: 'scores', dims: ['batch', classes] }],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'b'], outputs: ['scores'] },
    ],
    initializers: [
      { name: 'w', dims: [features, classes], values: w },
      { name: 'b', dims: [classes], values: new Float32Array(classes) },
    ],
    ...overrides,
  });
}
