/**
 * Checkpoints: taken after every epoch of every training phase, enough to resume a job so that it
 * ends with the same weights as a run that never stopped. Encoded as one self-describing blob:
 *   "DSTLCKP1" | uint32 LE header length | header JSON (UTF-8) | padding to 4 | tensor data
 * where the header holds every field, with each typed array replaced by {$blob, type, offset, length}.
 */
import { EngineError } from './errors.js';
import type { ModelRole, TrainingPhase } from './events.js';
import type { EpochSummary, EpochTerms } from './train/fit.js';
import type { StoredTensor } from './train/state.js';

export interface Checkpoint {
  version: 1;
  /** Hash of the resolved spec: a checkpoint resumes only the job it came from. */
  spec_key: string;
  /** The phase this checkpoint was taken in, and how far it got. */
  phase: TrainingPhase;
  model: ModelRole;
  /** Epochs completed in `phase`. */
  epoch: number;
  /** Optimizer steps taken in `phase`. */
  step: number;
  /**
   * Randomness is derived from (seed, model, epoch, step), never from a running generator, so the
   * seed and the position above are the whole RNG state.
   */
  rng: { seed: number; algorithm: 'derived-mulberry32' };
  /** Identifies the cached soft targets (teacher weights × data): recomputed identically on resume. */
  soft_target_key: string | null;
  /**
   * What finished phases produced: the teachers trained in this job (with several, every finished
   * one's weights in teacher order, concatenated), the finished distilled student.
   */
  teacher_weights: StoredTensor[] | null;
  student_weights: StoredTensor[] | null;
  /** With several teachers, while training one: which (0-based). */
  teacher_index?: number;
  /** The model being trained in `phase`, and its optimizer's slots (those of hint projections too). */
  weights: StoredTensor[];
  optimizer: StoredTensor[];
  /** Distilling with hints: the learned projections (not part of the student). */
  projection_weights?: StoredTensor[];
  /** Each distillation epoch's temperature, α and loss terms (jobs whose report shows them). */
  distillation_history?: EpochTerms[];
  /** Epoch summaries per model: teacher, student, baseline (and teacher1, teacher2, … with several teachers). */
  history: Partial<Record<string, EpochSummary[]>>;
  /** Training seconds spent before this checkpoint (reported across resumes). */
  elapsed_seconds: number;
}

const MAGIC = 'DSTLCKP1';

export class CheckpointError extends EngineError {
  constructor(message: string) {
    super('bad_checkpoint', message);
  }
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const blobs: Array<Float32Array | Int32Array> = [];
  let offset = 0;
  const header = JSON.stringify(c, (_key, value: unknown) => {
    if (value instanceof Float32Array || value instanceof Int32Array) {
      const ref = { $blob: blobs.length, type: value instanceof Float32Array ? 'f32' : 'i32', offset, length: value.length };
      blobs.push(value);
      offset += value.byteLength;
      return ref;
    }
    return value;
  });
  const headerBytes = new TextEncoder().encode(header);
  const dataStart = align4(MAGIC.length + 4 + headerBytes.length);
  const out = new Uint8Array(dataStart + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, headerBytes.length, true);
  out.set(headerBytes, MAGIC.length + 4);
  let at = dataStart;
  for (const b of blobs) {
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at);
    at += b.byteLength;
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new CheckpointError('not a distill-server checkpoint (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  const headerEnd = MAGIC.length + 4 + headerLength;
  if (headerEnd > bytes.length) throw new CheckpointError('checkpoint is truncated (header)');
  const dataStart = align4(headerEnd);
  // Copy the data section once so every typed array below is aligned and independent of `bytes`.
  const data = new Uint8Array(bytes.subarray(dataStart)).buffer; // a copy: Buffer#slice would share the whole pooled buffer
  const parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, headerEnd)), (_key, value: unknown) => {
    if (value && typeof value === 'object' && '$blob' in value) {
      const ref = value as unknown as { type: 'f32' | 'i32'; offset: number; length: number };
      if (ref.offset + ref.length * 4 > data.byteLength) throw new CheckpointError('checkpoint is truncated (tensor data)');
      return ref.type === 'f32' ? new Float32Array(data, ref.offset, ref.length) : new Int32Array(data, ref.offset, ref.length);
    }
    return value;
  }) as Checkpoint;
  if (parsed.version !== 1) throw new CheckpointError(`checkpoint version ${String(parsed.version)} is not supported`);
  return parsed;
}

const align4 = (n: number) => (n + 3) & ~3;
