/**
 * The IDX format of MNIST/EMNIST: big-endian header (0x0000, type byte, rank byte, rank × uint32
 * dims) then the data. Images are idx3-ubyte, labels idx1-ubyte; either may be gzipped.
 */
import { gunzipSync } from 'node:zlib';
import { DataError } from '../errors.js';
import type { Dataset, Samples } from './types.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { bytes: number; read: (v: DataView, o: number) => number; make: (n: number) => IdxArray['data'] }> = {
  0x08: { bytes: 1, read: (v, o) => v.getUint8(o), make: (n) => new Uint8Array(n) },
  0x09: { bytes: 1, read: (v, o) => v.getInt8(o), make: (n) => new Int8Array(n) },
  0x0b: { bytes: 2, read: (v, o) => v.getInt16(o), make: (n) => new Int16Array(n) },
  0x0c: { bytes: 4, read: (v, o) => v.getInt32(o), make: (n) => new Int32Array(n) },
  0x0d: { bytes: 4, read: (v, o) => v.getFloat32(o), make: (n) => new Float32Array(n) },
  0x0e: { bytes: 8, read: (v, o) => v.getFloat64(o), make: (n) => new Float64Array(n) },
};

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** What an upload may claim: the most classes its labels may name (MAX_CLASSES). */
export interface IdxLimits {
  maxClasses?: number;
}

/** Parses one IDX file (gzipped or not). `name` is used in error messages. */
export function parseIdx(input: Uint8Array, name = 'idx file'): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = isGzip(input) ? new Uint8Array(gunzipSync(input)) : input;
  } catch {
    throw new DataError('idx_truncated', `${name}: gzip stream is truncated or corrupt`);
  }
  if (bytes.length === 0) throw new DataError('empty', `${name} is empty`);
  if (bytes.length < 4) throw new DataError('idx_truncated', `${name}: ${bytes.length} bytes, shorter than the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = TYPES[bytes[2]!];
  const rank = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || !type || rank < 1 || rank > 4) {
    const magic = view.getUint32(0).toString(16).padStart(8, '0');
    throw new DataError('idx_bad_magic', `${name}: magic number 0x${magic} is not IDX (expected 0x00000801 for labels or 0x00000803 for images)`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new DataError('idx_truncated', `${name}: header needs ${headerBytes} bytes, file has ${bytes.length}`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length < expected) {
    const need = Number.isSafeInteger(expected) ? `${expected} bytes` : 'more bytes than any file holds';
    throw new DataError('idx_truncated', `${name}: dimensions [${dims}] need ${need}, file has ${bytes.length}`);
  }
  if (count === 0) throw new DataError('empty', `${name} holds no items (dimensions [${dims}])`);
  const data = type.make(count);
  if (type.bytes === 1 && bytes[2] === 0x08) (data as Uint8Array).set(bytes.subarray(headerBytes, expected));
  else for (let i = 0; i < count; i++) data[i] = type.read(view, headerBytes + i * type.bytes);
  return { dims, data };
}

/**
 * Images and labels as samples: pixels scaled to [0, 1] when unsigned bytes, images shaped
 * [h, w, 1] (rank-3 files) so convnets read them directly.
 */
export function parseIdxPair(
  images: Uint8Array,
  labels: Uint8Array,
  names = { images: 'images', labels: 'labels' },
  limits: IdxLimits = {},
): Samples & { shape: number[] } {
  const maxClasses = limits.maxClasses ?? Infinity;
  // Labels first: they are small, and what they claim (the classes) is checked before the images are read.
  const lab = parseIdx(labels, names.labels);
  if (lab.dims.length !== 1)
    throw new DataError('idx_bad_magic', `${names.labels}: labels must be a rank-1 IDX file (magic 0x00000801), got rank ${lab.dims.length}`);
  for (let i = 0; i < lab.data.length; i++) {
    const v = lab.data[i]!;
    if (!Number.isInteger(v) || v < 0) throw new DataError('non_finite', `${names.labels}: label ${i} is ${v}, not a class index`);
    if (v >= maxClasses) {
      throw new DataError(
        'too_many_classes',
        `${names.labels}: label ${i} is ${v}, but labels are class indices below ${maxClasses} (the server's limit on classes, MAX_CLASSES)`,
      );
    }
  }
  const img = parseIdx(images, names.images);
  const n = img.dims[0]!;
  if (n !== lab.dims[0]) throw new DataError('count_mismatch', `${names.images} holds ${n} images but ${names.labels} holds ${lab.dims[0]} labels`);
  const per = img.dims.slice(1);
  const shape = per.length === 2 ? [per[0]!, per[1]!, 1] : per.length === 0 ? [1] : per;
  const scale = img.data instanceof Uint8Array ? 1 / 255 : 1;
  const x = new Float32Array(img.data.length);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i]! * scale;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = lab.data[i]!;
  return { x, y, shape };
}

/** A dataset from IDX train files and optional test files; class names are the label numbers. */
export function datasetFromIdx(
  train: { images: Uint8Array; labels: Uint8Array },
  test?: { images: Uint8Array; labels: Uint8Array },
  limits: IdxLimits = {},
): Dataset {
  const tr = parseIdxPair(train.images, train.labels, { images: 'train images', labels: 'train labels' }, limits);
  const te = test ? parseIdxPair(test.images, test.labels, { images: 'test images', labels: 'test labels' }, limits) : undefined;
  if (te && te.shape.join() !== tr.shape.join()) {
    throw new DataError('shape_mismatch', `test images are [${te.shape}] but train images are [${tr.shape}]`);
  }
  let classes = 0;
  for (const s of [tr, te]) if (s) for (const v of s.y) classes = Math.max(classes, v + 1);
  return {
    shape: tr.shape,
    classNames: Array.from({ length: classes }, (_, i) => String(i)),
    train: { x: tr.x, y: tr.y },
    ...(te ? { test: { x: te.x, y: te.y } } : {}),
  };
}
