/**
 * A model's files in the tfjs layers format. An upload (model.json plus the weight files its manifest
 * names, as `model.save(tf.io.http(url))` sends them) is checked for its structure, the names and sizes
 * of its weight files, and that it loads; it is stored like a job's models: model.json whose one
 * manifest entry names weights.bin, beside weights.bin, so the client's file names never reach storage.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { artifactsToModel, type ModelArtifacts, type ModelJson } from '../ml/models/serialize.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import { onlyFields, type Upload } from './upload.js';

export const MODEL_FILES = ['model.json', 'weights.bin'] as const;
export const MODEL_FIELDS = ['name'] as const;
/** Form fields that carry model.json; every other file is a weight file, matched by its file name. */
const MODEL_JSON_FIELDS = ['model.json', 'model'];
const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

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

type ManifestGroup = { paths: string[]; weights: tf.io.WeightsManifestEntry[] };

/** Structure, manifest, names and sizes: everything that can be checked without building the model. */
export function checkModelUpload(upload: Upload): ModelArtifacts {
  onlyFields(upload, MODEL_FIELDS);
  const jsonFiles = upload.files.filter((f) => MODEL_JSON_FIELDS.includes(f.field));
  if (jsonFiles.length !== 1) throw invalid('missing_model_json', jsonFiles.length === 0 ? 'no model.json: send it in the form field "model.json"' : 'model.json is given more than once');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(jsonFiles[0]!.bytes.toString('utf8'));
  } catch (err) {
    throw invalid('invalid_json', `model.json is not valid JSON: ${(err as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw invalid('invalid_json', 'model.json must be a JSON object');
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw invalid('not_layers_model', `model.json has format "${String(json.format)}": only tfjs layers models (format layers-model) can be used`);
  }
  if (!json.modelTopology || typeof json.modelTopology !== 'object') throw invalid('not_layers_model', 'model.json has no modelTopology: it is not a tfjs layers model');
  const groups = manifestOf(json.weightsManifest);

  const weightFiles = new Map<string, Buffer>();
  for (const file of upload.files) {
    if (MODEL_JSON_FIELDS.includes(file.field)) continue;
    const name = file.filename || file.field;
    if (weightFiles.has(name)) throw invalid('duplicate_file', `weight file ${name} is given twice`);
    weightFiles.set(name, file.bytes);
  }
  const named = groups.flatMap((g) => g.paths.map(baseName));
  const missing = named.filter((n) => !weightFiles.has(n));
  if (missing.length > 0) throw invalid('missing_weights', `model.json's weightsManifest names ${missing.join(', ')}, which ${missing.length > 1 ? 'were' : 'was'} not uploaded`);
  const extra = [...weightFiles.keys()].filter((n) => !named.includes(n));
  if (extra.length > 0) throw invalid('unexpected_file', `${extra.join(', ')} ${extra.length > 1 ? 'are' : 'is'} not named in model.json's weightsManifest`);
  const parts: Buffer[] = [];
  for (const group of groups) {
    const files = group.paths.map(baseName);
    const actual = files.reduce((n, f) => n + weightFiles.get(f)!.length, 0);
    const expected = group.weights.reduce((n, w) => n + weightBytes(w), 0);
    if (actual !== expected) {
      const names = group.weights.slice(0, 3).map((w) => `${w.name} [${w.shape}] ${w.quantization?.dtype ?? w.dtype}`).join(', ');
      throw invalid('weights_size_mismatch', `${files.join(' + ')} ${files.length > 1 ? 'hold' : 'holds'} ${actual} bytes, but the weights model.json lists for ${files.length > 1 ? 'them' : 'it'} (${names}${group.weights.length > 3 ? ', …' : ''}) need ${expected}`);
    }
    parts.push(...files.map((f) => weightFiles.get(f)!));
  }
  const modelJson: ModelJson = {
    format: 'layers-model',
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : 'unknown',
    convertedBy: null,
    modelTopology: json.modelTopology as object,
    weightsManifest: [{ paths: ['weights.bin'], weights: groups.flatMap((g) => g.weights) }],
  };
  return { modelJson, weights: new Uint8Array(Buffer.concat(parts)) };
}

/** Loads the model to describe it; a model that does not load, or that a job cannot use, is refused. */
export async function describeModel(artifacts: ModelArtifacts): Promise<ModelDescription> {
  // The API process has not picked a backend: tfjs takes its best registered one (cpu).
  await tf.ready();
  let model: tf.LayersModel;
  try {
    model = await artifactsToModel(artifacts);
  } catch (err) {
    throw invalid('unloadable', `model.json does not load as a tfjs layers model: ${(err as Error).message}`);
  }
  try {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw invalid('unsupported_shape', `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs: a teacher has one of each`);
    }
    const inputShape = model.inputs[0]!.shape.slice(1);
    const outputShape = model.outputs[0]!.shape.slice(1);
    if (inputShape.some((d) => d === null) || outputShape.length !== 1 || outputShape[0] === null) {
      throw invalid('unsupported_shape', `the model reads [${inputShape.map((d) => d ?? '?')}] and outputs [${outputShape.map((d) => d ?? '?')}]: a teacher reads a fixed shape and outputs one value per class`);
    }
    const files = modelFiles(artifacts);
    return {
      inputShape: inputShape as number[],
      outputShape: outputShape as number[],
      parameters: model.countParams(),
      bytes: files.modelJson.length + files.weights.length,
      sha256: createHash('sha256').update(files.modelJson).update(files.weights).digest('hex'),
    };
  } finally {
    model.dispose();
  }
}

/** The bytes of model.json and weights.bin exactly as stored and served. */
export function modelFiles(artifacts: ModelArtifacts): { modelJson: Uint8Array; weights: Uint8Array } {
  return { modelJson: new TextEncoder().encode(JSON.stringify(artifacts.modelJson)), weights: artifacts.weights };
}

export async function storeModel(store: ArtifactStore, key: string, artifacts: ModelArtifacts): Promise<void> {
  const files = modelFiles(artifacts);
  try {
    await store.put(`${key}/weights.bin`, files.weights);
    await store.put(`${key}/model.json`, files.modelJson);
  } catch (err) {
    await store.remove(key).catch(() => {});
    throw err;
  }
}

/** The training child's view of a stored model (a teacher given by id). */
export async function loadStoredModel(store: ArtifactStore, key: string): Promise<ModelArtifacts> {
  const modelJson = JSON.parse((await store.get(`${key}/model.json`)).toString('utf8')) as ModelJson;
  return { modelJson, weights: new Uint8Array(await store.get(`${key}/weights.bin`)) };
}

function manifestOf(value: unknown): ManifestGroup[] {
  const bad = (why: string) => invalid('bad_manifest', `model.json's weightsManifest ${why}`);
  if (!Array.isArray(value)) throw bad('is missing or not a list');
  return value.map((group, g) => {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw bad(`entry ${g} needs paths and weights lists`);
    for (const path of group.paths) if (typeof path !== 'string' || baseName(path) === '') throw bad(`entry ${g} has a path that is not a file name`);
    for (const w of group.weights) {
      const shapeOk = Array.isArray(w?.shape) && w.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0);
      if (typeof w?.name !== 'string' || !shapeOk) throw bad(`entry ${g} has a weight without a name or an integer shape`);
      if (!((VALUE_BYTES[w.quantization?.dtype ?? w.dtype] ?? 0) > 0)) throw bad(`weight ${w.name} has dtype ${w.quantization?.dtype ?? w.dtype}, which a teacher cannot use`);
    }
    return group as ManifestGroup;
  });
}

/** `./group1-shard1of1.bin` → `group1-shard1of1.bin`: what a browser or tfjs sends as the file name. */
function baseName(path: string): string {
  return path.split('/').at(-1) ?? '';
}

function weightBytes(w: tf.io.WeightsManifestEntry): number {
  return w.shape.reduce((a, b) => a * b, 1) * VALUE_BYTES[w.quantization?.dtype ?? w.dtype]!;
}

const invalid = (reason: string, message: string) => new ResourceError(400, 'invalid_model', message, reason);
