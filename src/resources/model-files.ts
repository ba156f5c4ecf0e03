/**
 * A model's files in the tfjs layers format. An upload (model.json plus the weight files its manifest
 * names, as `model.save(tf.io.http(url))` sends them) is checked for its structure and the names and
 * sizes of its weight files here, without tfjs (this runs in the API), and that it loads in a child
 * process (./model-check.ts); it is stored like a job's models: model.json whose one manifest entry
 * names weights.bin, beside weights.bin, so the client's file names never reach storage.
 */
import { Readable } from 'node:stream';
import type { ModelArtifacts, ModelJson, WeightsManifestEntry } from '../ml/tfjs-free.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import { onlyFields, quoted, type Upload } from './upload.js';

export const MODEL_FILES = ['model.json', 'weights.bin'] as const;
export const MODEL_FIELDS = ['name'] as const;
/** Form fields that carry model.json; every other file is a weight file, matched by its file name. */
const MODEL_JSON_FIELDS = ['model.json', 'model'];
const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };
/** model.json is parsed on the API's event loop: a layers topology is kilobytes, rarely a megabyte. */
export const MAX_MODEL_JSON_BYTES = 4 * 1024 ** 2;
/** Nesting of model.json: a layers topology (nested models included) is a few dozen levels deep. */
export const MAX_MODEL_JSON_DEPTH = 64;
/** Largest weight magnitude a teacher may hold (stored or dequantized): beyond it outputs overflow. */
export const MAX_ABS_WEIGHT = 1e9;
/** Most dimensions of a weight or of the model's input. */
export const MAX_RANK = 8;

export interface ModelDescription {
  inputShape: number[];
  outputShape: number[];
  parameters: number;
  /** model.json and weights.bin as stored. */
  bytes: number;
  /** sha256 of model.json followed by weights.bin, as stored and served. */
  sha256: string;
}

/** A model a job produced, described by the training child; its files are the job's artifacts. */
export interface JobModel extends ModelDescription {
  /** student, teacher, or teacher1, teacher2… for a job's further trained teachers. */
  role: string;
  /** Storage key of the folder holding model.json and weights.bin. */
  storageKey: string;
}

type ManifestGroup = { paths: string[]; weights: WeightsManifestEntry[] };

/** Structure, manifest, names and sizes: everything that can be checked without building the model. */
/** A checked upload: model.json as it will be stored, and the stored weight files to join, in order. */
export interface ModelUploadPlan {
  modelJson: ModelJson;
  weightKeys: string[];
}

/** Form fields read into memory for a model upload (model.json, bounded); weight files are streamed to the store. */
export const MODEL_WHOLE_FIELDS = { fields: MODEL_JSON_FIELDS, maxBytes: MAX_MODEL_JSON_BYTES };

export function checkModelUpload(upload: Upload): ModelUploadPlan {
  onlyFields(upload, MODEL_FIELDS);
  const jsonFiles = upload.files.filter((f) => MODEL_JSON_FIELDS.includes(f.field));
  if (jsonFiles.length !== 1)
    throw invalid(
      'missing_model_json',
      jsonFiles.length === 0 ? 'no model.json: send it in the form field "model.json"' : 'model.json is given more than once',
    );
  const jsonFile = jsonFiles[0]!;
  const jsonBytes = jsonFile.bytes;
  if (!jsonBytes || jsonFile.size > MAX_MODEL_JSON_BYTES)
    throw new ResourceError(
      413,
      'upload_too_large',
      `model.json is ${jsonFile.size} bytes, more than the ${MAX_MODEL_JSON_BYTES} a layers model's description may have (its weights go in the weight files)`,
    );
  // Measured before parsing: everything after (hashing, storing, tfjs) walks the parsed value recursively.
  const depth = jsonDepth(jsonBytes);
  if (depth > MAX_MODEL_JSON_DEPTH)
    throw invalid('too_deep', `model.json nests more than ${MAX_MODEL_JSON_DEPTH} levels deep: a layers model's description is far shallower`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(jsonBytes.toString('utf8'));
  } catch (err) {
    throw invalid('invalid_json', `model.json is not valid JSON: ${(err as Error).message.slice(0, 120)}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw invalid('invalid_json', 'model.json must be a JSON object');
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw invalid('not_layers_model', `model.json has format ${short(String(json.format))}: only tfjs layers models (format layers-model) can be used`);
  }
  if (!json.modelTopology || typeof json.modelTopology !== 'object')
    throw invalid('not_layers_model', 'model.json has no modelTopology: it is not a tfjs layers model');
  const groups = manifestOf(json.weightsManifest);

  const weightFiles = new Map<string, { size: number; key: string }>();
  for (const file of upload.files) {
    if (MODEL_JSON_FIELDS.includes(file.field)) continue;
    const name = file.filename || file.field;
    if (weightFiles.has(name)) throw invalid('duplicate_file', `weight file ${name} is given twice`);
    weightFiles.set(name, { size: file.size, key: file.key! });
  }
  const named = groups.flatMap((g) => g.paths.map(baseName));
  // Each uploaded file is read once: a manifest naming one file many times would have the API join
  // copies of it, so a few MiB uploaded would claim (and allocate, and store) hundreds.
  const seen = new Set<string>();
  const repeated = new Set(named.filter((n) => seen.has(n) || !seen.add(n)));
  if (repeated.size > 0)
    throw invalid('bad_manifest', `model.json's weightsManifest names ${names([...repeated])} more than once: each weight file is named once`);
  const missing = named.filter((n) => !weightFiles.has(n));
  if (missing.length > 0)
    throw invalid('missing_weights', `model.json's weightsManifest names ${names(missing)}, which ${missing.length > 1 ? 'were' : 'was'} not uploaded`);
  const extra = [...weightFiles.keys()].filter((n) => !named.includes(n));
  if (extra.length > 0) throw invalid('unexpected_file', `${names(extra)} ${extra.length > 1 ? 'are' : 'is'} not named in model.json's weightsManifest`);
  const parts: string[] = [];
  for (const group of groups) {
    const files = group.paths.map(baseName);
    const actual = files.reduce((n, f) => n + weightFiles.get(f)!.size, 0);
    const expected = group.weights.reduce((n, w) => n + weightBytes(w), 0);
    if (actual !== expected) {
      const listed = group.weights
        .slice(0, 3)
        .map((w) => `${short(w.name, 60)} [${w.shape}] ${w.quantization?.dtype ?? w.dtype}`)
        .join(', ');
      const need = Number.isSafeInteger(expected) ? String(expected) : 'more than any upload holds';
      throw invalid(
        'weights_size_mismatch',
        `${names(files)} ${files.length > 1 ? 'hold' : 'holds'} ${actual} bytes, but the weights model.json lists for ${files.length > 1 ? 'them' : 'it'} (${listed}${group.weights.length > 3 ? ', …' : ''}) need ${need}`,
      );
    }
    parts.push(...files.map((f) => weightFiles.get(f)!.key));
  }
  const modelJson: ModelJson = {
    format: 'layers-model',
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : 'unknown',
    convertedBy: null,
    modelTopology: json.modelTopology as object,
    weightsManifest: [{ paths: ['weights.bin'], weights: groups.flatMap((g) => g.weights) }],
  };
  return { modelJson, weightKeys: parts };
}

/** The bytes of model.json and weights.bin exactly as stored and served. */
export function modelFiles(artifacts: ModelArtifacts): { modelJson: Uint8Array; weights: Uint8Array } {
  return { modelJson: new TextEncoder().encode(JSON.stringify(artifacts.modelJson)), weights: artifacts.weights };
}

/**
 * Stores a checked upload as a job's models are stored: weights.bin (the uploaded weight files joined
 * in manifest order, streamed store to store) beside model.json; the uploaded files are then removed.
 */
export async function storeModel(store: ArtifactStore, key: string, plan: ModelUploadPlan): Promise<void> {
  async function* joined() {
    for (const part of plan.weightKeys) yield* store.stream(part);
  }
  await store.putStream(`${key}/weights.bin`, Readable.from(joined()));
  await store.put(`${key}/model.json`, new TextEncoder().encode(JSON.stringify(plan.modelJson)));
  for (const part of new Set(plan.weightKeys)) await store.remove(part);
}

/** The training child's view of a stored model (a teacher given by id). */
export async function loadStoredModel(store: ArtifactStore, key: string): Promise<ModelArtifacts> {
  const modelJson = JSON.parse((await store.get(`${key}/model.json`)).toString('utf8')) as ModelJson;
  return { modelJson, weights: new Uint8Array(await store.get(`${key}/weights.bin`)) };
}

/** Nesting depth of a JSON text, counted over its bytes without parsing (brackets inside strings skipped). */
export function jsonDepth(bytes: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (b === 0x5d || b === 0x7d) depth--;
  }
  return deepest;
}

/** A name from an upload, quoted and cut short for a message. */
export function short(text: string, max = 40): string {
  return quoted(text, max);
}

/** Names from an upload, a few of them, for a message. */
function names(list: string[], max = 3): string {
  const shown = list
    .slice(0, max)
    .map((n) => short(n, 60))
    .join(', ');
  return list.length > max ? `${shown} and ${list.length - max} more` : shown;
}

/** A quantized weight dequantizes to min + scale · q for q in 0…2^bits-1: both must keep it in range. */
function quantizationProblem(w: WeightsManifestEntry): string | undefined {
  const q = w.quantization;
  if (!q) return undefined;
  if (!['uint8', 'uint16', 'float16'].includes(q.dtype as string)) return `quantization dtype ${short(String(q.dtype))} (expected uint8, uint16 or float16)`;
  if (q.dtype === 'float16') return undefined;
  const { scale, min } = q;
  if (typeof scale !== 'number' || typeof min !== 'number' || !Number.isFinite(scale) || !Number.isFinite(min))
    return `quantization scale ${scale} and min ${min} (both must be finite numbers)`;
  const top = min + scale * (q.dtype === 'uint8' ? 255 : 65535);
  if (scale < 0 || Math.abs(min) > MAX_ABS_WEIGHT || Math.abs(top) > MAX_ABS_WEIGHT) {
    return `quantization scale ${scale} and min ${min}, which dequantize to values beyond ±${MAX_ABS_WEIGHT}`;
  }
  return undefined;
}

function manifestOf(value: unknown): ManifestGroup[] {
  const bad = (why: string) => invalid('bad_manifest', `model.json's weightsManifest ${why}`);
  if (!Array.isArray(value)) throw bad('is missing or not a list');
  return value.map((group, g) => {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw bad(`entry ${g} needs paths and weights lists`);
    for (const path of group.paths) if (typeof path !== 'string' || baseName(path) === '') throw bad(`entry ${g} has a path that is not a file name`);
    for (const w of group.weights) {
      const shapeOk = Array.isArray(w?.shape) && w.shape.length <= MAX_RANK && w.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0);
      if (typeof w?.name !== 'string' || !shapeOk) throw bad(`entry ${g} has a weight without a name or an integer shape of at most ${MAX_RANK} dimensions`);
      if (!((VALUE_BYTES[w.quantization?.dtype ?? w.dtype] ?? 0) > 0))
        throw bad(`weight ${short(w.name, 60)} has dtype ${short(String(w.quantization?.dtype ?? w.dtype))}, which a teacher cannot use`);
      const quantization = quantizationProblem(w);
      if (quantization) throw invalid('bad_quantization', `model.json's weightsManifest gives weight ${short(w.name, 60)} ${quantization}`);
    }
    return group as ManifestGroup;
  });
}

/** `./group1-shard1of1.bin` → `group1-shard1of1.bin`: what a browser or tfjs sends as the file name. */
function baseName(path: string): string {
  return path.split('/').at(-1) ?? '';
}

function weightBytes(w: WeightsManifestEntry): number {
  return w.shape.reduce((a, b) => a * b, 1) * VALUE_BYTES[w.quantization?.dtype ?? w.dtype]!;
}

export const invalidModel = (reason: string, message: string) => new ResourceError(400, 'invalid_model', message, reason);
const invalid = invalidModel;
