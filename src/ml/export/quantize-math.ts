/**
 * Per-tensor weight quantization shared by the tfjs and ONNX variants, so both dequantize to the very
 * same float32 values: 8-bit affine with an integer zero point (zero stays exact), and IEEE float16.
 */

export interface AffineUint8 {
  /** q ∈ [0, 255]; the weight is (q - zeroPoint) · scale. */
  values: Uint8Array;
  /** A float32-representable step. */
  scale: number;
  zeroPoint: number;
}

/**
 * 8-bit affine quantization over the tensor's range widened to hold 0 (the TF Lite "nudged" range).
 * With an integer zero point, tfjs' `q·scale + min` (min = -zeroPoint·scale) and ONNX DequantizeLinear's
 * `(q - zeroPoint)·scale` give identical float32 values.
 */
export function quantizeUint8(w: Float32Array): AffineUint8 {
  let lo = 0;
  let hi = 0;
  for (const v of w) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi > lo ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  const values = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) values[i] = Math.min(255, Math.max(0, Math.round(w[i]! / scale) + zeroPoint));
  return { values, scale, zeroPoint };
}

export function dequantizeUint8(q: AffineUint8): Float32Array {
  return Float32Array.from(q.values, (v) => (v - q.zeroPoint) * q.scale);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE 754 binary16 bits, rounding to nearest even (overflow to ±Inf, tiny values to subnormals or 0). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000; // the implicit leading 1
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m; // a carry into the exponent field is still the right value
  }
  const rest = mant & 0x1fff;
  mant >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && (mant & 1) === 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mant;
}

export function toFloat16(w: Float32Array): Uint16Array {
  return Uint16Array.from(w, toFloat16Bits);
}

/** binary16 bits → float32 value. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
