/**
 * Post-training weight quantization of a tfjs layers model, written in the weights-manifest
 * quantization format (`quantization: { dtype, scale, min }`) that stock `tf.loadLayersModel`
 * dequantizes while loading: any tfjs runtime loads these files unchanged. Activations stay float32.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelArtifacts } from '../models/serialize.js';
import { quantizeUint8, toFloat16 } from './quantize-math.js';

export const QUANTIZATIONS = ['float16', 'uint8'] as const;
export type Quantization = (typeof QUANTIZATIONS)[number];

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** A copy of the model whose float32 weights are stored as float16, or as 8-bit affine per tensor. */
export function quantizeArtifacts(a: ModelArtifacts, kind: Quantization): ModelArtifacts {
  const specs = a.modelJson.weightsManifest.flatMap((g) => g.weights);
  const parts: Uint8Array[] = [];
  const out: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) throw new Error(`weight ${spec.name} is already quantized`);
    const count = spec.shape.reduce((x, y) => x * y, 1);
    const bytes = count * (BYTES[spec.dtype] ?? 4);
    const raw = a.weights.slice(offset, offset + bytes);
    offset += bytes;
    if (spec.dtype !== 'float32') {
      parts.push(raw);
      out.push(spec);
      continue;
    }
    const values = new Float32Array(raw.buffer, raw.byteOffset, count);
    if (kind === 'float16') {
      parts.push(new Uint8Array(toFloat16(values).buffer));
      out.push({ ...spec, quantization: { dtype: 'float16' } });
    } else {
      const q = quantizeUint8(values);
      parts.push(q.values);
      out.push({ ...spec, quantization: { dtype: 'uint8', scale: q.scale, min: -q.zeroPoint * q.scale } });
    }
  }
  const weights = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    weights.set(p, at);
    at += p.byteLength;
  }
  const paths = a.modelJson.weightsManifest[0]?.paths ?? ['weights.bin'];
  return { modelJson: { ...a.modelJson, weightsManifest: [{ paths, weights: out }] }, weights };
}
