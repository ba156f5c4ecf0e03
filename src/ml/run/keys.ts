/** The hashes that tie a checkpoint to its job (the spec) and to its soft targets (teachers × data). */
import { createHash } from 'node:crypto';
import type { ResolvedSpec } from '../spec.js';
import type { StoredTensor } from '../train/state.js';

/** A checkpoint resumes only the job whose resolved spec has this key. */
export function specKeyOf(resolved: ResolvedSpec): string {
  return sha256(JSON.stringify(resolved));
}

/** Identifies the teachers' outputs on this data: the same key recomputes the same soft targets. */
export function softTargetKeyOf(
  resolved: ResolvedSpec,
  teacherInputShapes: ReadonlyArray<readonly number[]>,
  needs: readonly unknown[],
  teacherWeights: readonly StoredTensor[],
): string {
  return sha256(
    JSON.stringify([resolved.dataset, resolved.seed, ...teacherInputShapes, ...(needs.length > 0 ? [needs] : [])]),
    ...teacherWeights.map((w) => w.data),
  );
}

function sha256(text: string, ...blobs: Array<Float32Array | Int32Array>): string {
  const h = createHash('sha256').update(text);
  for (const b of blobs) h.update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  return h.digest('hex').slice(0, 32);
}
