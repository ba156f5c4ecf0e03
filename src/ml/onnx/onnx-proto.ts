/**
 * What onnxruntime does not say about a model, read from its protobuf (onnx.proto3's ModelProto) with a
 * small wire-format walker: the opsets it imports, its parameter count (the elements of the graph's
 * initializers) and whether weights live in external files. Only the fields named below are read; the
 * rest is skipped by length, so a large model is walked without copying its weights.
 */

export interface OnnxFacts {
  irVersion: number;
  /** Imported operator sets, e.g. [{ domain: '', version: 17 }] ('' and 'ai.onnx' are the standard ops). */
  opsets: Array<{ domain: string; version: number }>;
  /** Elements of every initializer: the weights the graph holds. */
  parameters: number;
  /** Names of initializers whose data lives in an external file beside the model. */
  external: string[];
}

export class OnnxProtoError extends Error {
  override name = 'OnnxProtoError';
}

// Field numbers of onnx.proto3.
const MODEL = { irVersion: 1, graph: 7, opsetImport: 8 } as const;
const OPSET = { domain: 1, version: 2 } as const;
const GRAPH = { initializer: 5 } as const;
const TENSOR = { dims: 1, name: 8, dataLocation: 14 } as const;
const EXTERNAL = 1;
/** Nested protobuf reads stop here: a ModelProto's interesting fields are three levels deep. */
const MAX_FIELDS = 50_000_000;

type Field = { number: number; wire: number; value: bigint | Uint8Array };

function* fields(bytes: Uint8Array): Generator<Field> {
  let at = 0;
  let count = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new OnnxProtoError('the protobuf ends inside a number');
      const b = bytes[at++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new OnnxProtoError('a protobuf number is longer than 64 bits');
    }
  };
  while (at < bytes.length) {
    if (++count > MAX_FIELDS) throw new OnnxProtoError('the protobuf has too many fields');
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    if (number === 0) throw new OnnxProtoError('a protobuf field has number 0');
    if (wire === 0) yield { number, wire, value: varint() };
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (at + size > bytes.length) throw new OnnxProtoError('the protobuf ends inside a fixed-size field');
      at += size;
    } else if (wire === 2) {
      const length = Number(varint());
      if (at + length > bytes.length) throw new OnnxProtoError(`a protobuf field claims ${length} bytes, more than the file holds`);
      yield { number, wire, value: bytes.subarray(at, at + length) };
      at += length;
    } else throw new OnnxProtoError(`the protobuf uses wire type ${wire}, which ONNX files do not`);
  }
}

const text = (v: Uint8Array) => new TextDecoder().decode(v);

/** Packed (wire 2) or one-by-one (wire 0) repeated int64s. */
function int64s(field: Field): bigint[] {
  if (typeof field.value === 'bigint') return [field.value];
  return [...fields(withKeys(field.value))].map((f) => f.value as bigint);
}

/** A packed varint list re-read as fields numbered 1 (each value prefixed with key 0x08). */
function withKeys(packed: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = true;
  for (const b of packed) {
    if (start) out.push(0x08);
    out.push(b);
    start = (b & 0x80) === 0;
  }
  return Uint8Array.from(out);
}

export function readOnnxFacts(bytes: Uint8Array): OnnxFacts {
  const facts: OnnxFacts = { irVersion: 0, opsets: [], parameters: 0, external: [] };
  let graphs = 0;
  for (const f of fields(bytes)) {
    if (f.number === MODEL.irVersion && f.wire === 0) facts.irVersion = Number(f.value);
    else if (f.number === MODEL.opsetImport && f.wire === 2) {
      const opset = { domain: '', version: 0 };
      for (const g of fields(f.value as Uint8Array)) {
        if (g.number === OPSET.domain && g.wire === 2) opset.domain = text(g.value as Uint8Array);
        else if (g.number === OPSET.version && g.wire === 0) opset.version = Number(g.value);
      }
      facts.opsets.push(opset);
    } else if (f.number === MODEL.graph && f.wire === 2) {
      graphs++;
      for (const g of fields(f.value as Uint8Array)) {
        if (g.number !== GRAPH.initializer || g.wire !== 2) continue;
        let elements = 1n;
        let name = '';
        for (const t of fields(g.value as Uint8Array)) {
          if (t.number === TENSOR.dims) for (const d of int64s(t)) elements *= d;
          else if (t.number === TENSOR.name && t.wire === 2) name = text(t.value as Uint8Array);
          else if (t.number === TENSOR.dataLocation && t.wire === 0 && Number(t.value) === EXTERNAL) facts.external.push(name || '(unnamed)');
        }
        facts.parameters += Number(elements);
      }
    }
  }
  if (graphs !== 1) throw new OnnxProtoError(graphs === 0 ? 'the file holds no ONNX graph' : 'the file holds more than one ONNX graph');
  return facts;
}
