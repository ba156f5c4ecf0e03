/**
 * A dataset's files: which form fields an upload may carry, how they are checked with the engine's own
 * loaders, and how the training child reads them back. Files are stored as uploaded (gzipped or not)
 * under names we choose, beside a manifest.json that says how to parse them.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { DataError, type Dataset, datasetFromIdx, parseCsv, validateDataset } from '../ml/tfjs-free.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import type { DatasetLimits } from './upload-checks.js';
import { onlyFields, quoted, tooLarge, type Upload, type UploadedFile } from './upload.js';

export type DatasetFormat = 'idx' | 'csv';

/** The file roles of each format, in hashing order, and the name each is stored under. */
const ROLES = {
  idx: { train_images: 'train-images.idx', train_labels: 'train-labels.idx', test_images: 'test-images.idx', test_labels: 'test-labels.idx' },
  csv: { csv: 'data.csv' },
} as const satisfies Record<DatasetFormat, Record<string, string>>;

export const DATASET_FIELDS = ['name', 'format', 'label_column'] as const;

export interface DatasetManifest {
  format: DatasetFormat;
  /** Role → stored file name (relative to the dataset's storage key). */
  files: Record<string, string>;
  label_column?: string;
}

export interface PlannedDataset {
  name?: string;
  manifest: DatasetManifest;
  /** Role → the file as uploaded, already in the store (under the dataset's folder). */
  files: Record<string, UploadedFile>;
  bytes: number;
  /** Identifies the upload: sha256 over each role's name, length and sha256, and the parsing options. */
  sha256: string;
}

/** Which files an upload holds and what they are: refuses unknown, missing or half-given files. */
export function planDataset(upload: Upload): PlannedDataset {
  onlyFields(upload, DATASET_FIELDS);
  const { name, format: given, label_column: labelColumn } = upload.fields;
  if (name !== undefined && (name.length < 1 || name.length > 200)) throw invalid('name must be 1 to 200 characters');
  const fields = upload.files.map((f) => f.field);
  const format: DatasetFormat | undefined =
    given === 'idx' || given === 'csv' ? given : fields.includes('csv') ? 'csv' : fields.some((f) => Object.hasOwn(ROLES.idx, f)) ? 'idx' : undefined;
  if (given !== undefined && given !== format) throw invalid(`format must be idx or csv, got ${quoted(given, 20)}`);
  if (labelColumn !== undefined && (labelColumn.length < 1 || labelColumn.length > 200)) throw invalid('label_column must be 1 to 200 characters');
  if (!format) throw invalid('no dataset files: send train_images and train_labels (IDX, optionally test_images and test_labels) or csv');
  const roles: Record<string, string> = ROLES[format];
  const files: Record<string, UploadedFile> = {};
  for (const file of upload.files) {
    if (!Object.hasOwn(roles, file.field))
      throw invalid(`file field ${quoted(file.field)} is not part of a ${format} dataset (expected ${Object.keys(roles).join(', ')})`);
    if (files[file.field]) throw invalid(`file field ${quoted(file.field)} is given twice`);
    files[file.field] = file;
  }
  if (format === 'idx') {
    for (const required of ['train_images', 'train_labels']) if (!files[required]) throw invalid(`an IDX dataset needs ${required}`);
    if (Boolean(files.test_images) !== Boolean(files.test_labels)) throw invalid('give test_images and test_labels together, or neither');
  } else if (!files.csv) throw invalid('a CSV dataset needs the csv file');
  if (format === 'idx' && labelColumn !== undefined) throw invalid('label_column applies to CSV datasets only');
  const manifest: DatasetManifest = {
    format,
    // Stored as received, under the names readUpload gave them (never the client's).
    files: Object.fromEntries(Object.keys(files).map((role) => [role, files[role]!.key!.split('/').at(-1)!])),
    ...(format === 'csv' ? { label_column: labelColumn ?? 'label' } : {}),
  };
  const hash = createHash('sha256').update(`${format}\n`);
  for (const role of Object.keys(roles)) {
    const file = files[role];
    if (file) hash.update(`${role}\n${file.size}\n${file.sha256}\n`);
  }
  if (manifest.label_column !== undefined) hash.update(`label_column\n${manifest.label_column}\n`);
  return { ...(name !== undefined ? { name } : {}), manifest, files, bytes: upload.bytes, sha256: hash.digest('hex') };
}

/**
 * Parses and validates the files with the engine's loaders. Gzipped files may unpack to at most
 * `maxBytes` together, so a small upload cannot expand into gigabytes here, and the labels may name
 * at most `maxClasses` classes, so a tiny upload cannot claim millions of them.
 */
export function parseDataset(planned: StoredDataset, limits: Partial<DatasetLimits> = {}): Dataset {
  const maxBytes = limits.maxBytes ?? Infinity;
  const maxClasses = limits.maxClasses ?? Infinity;
  let budget = maxBytes;
  const unpacked = (role: string): Uint8Array => {
    const raw = planned.files[role]!;
    const bytes = unpack(raw, role.replace('_', ' '), budget);
    budget -= bytes.length;
    return bytes;
  };
  try {
    const { manifest, files } = planned;
    const dataset =
      manifest.format === 'csv'
        ? parseCsv(files.csv!, { labelColumn: manifest.label_column ?? 'label', name: 'csv', maxClasses })
        : datasetFromIdx(
            { images: unpacked('train_images'), labels: unpacked('train_labels') },
            files.test_images ? { images: unpacked('test_images'), labels: unpacked('test_labels') } : undefined,
            { maxClasses },
          );
    validateDataset(dataset);
    return dataset;
  } catch (err) {
    if (err instanceof DataError) throw new ResourceError(400, 'invalid_dataset', err.message, err.code);
    throw err;
  }
}

const isGzip = (bytes: Uint8Array) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** Gunzips a gzipped file within the budget; a corrupt stream is left for parseIdx to name. */
function unpack(bytes: Uint8Array, name: string, budget: number): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  let unpacked: Uint8Array;
  try {
    unpacked = gunzipSync(bytes, Number.isFinite(budget) ? { maxOutputLength: Math.max(1, budget) } : {});
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(budget, `${name} unpacked`);
    return bytes;
  }
  // parseIdx would unpack a second layer without the budget: a gzip bomb inside a gzip.
  if (isGzip(unpacked)) throw new ResourceError(400, 'invalid_dataset', `${name} is gzipped twice: gzip it once`, 'idx_bad_magic');
  return unpacked;
}

/** Writes the manifest beside the files readUpload stored under `key`. */
export async function storeDataset(store: ArtifactStore, key: string, planned: PlannedDataset): Promise<void> {
  await store.put(`${key}/manifest.json`, Buffer.from(JSON.stringify(planned.manifest)));
}

/** A dataset read back from the store: its manifest and files (as uploaded, gzipped or not). */
export interface StoredDataset {
  manifest: DatasetManifest;
  files: Record<string, Buffer>;
}

/** A stored dataset's manifest and files, as stored (gzipped or not). */
export async function readStoredDataset(store: ArtifactStore, key: string): Promise<StoredDataset> {
  const manifest = JSON.parse((await store.get(`${key}/manifest.json`)).toString('utf8')) as DatasetManifest;
  const files: Record<string, Buffer> = {};
  for (const [role, file] of Object.entries(manifest.files)) files[role] = await store.get(`${key}/${file}`);
  return { manifest, files };
}

/** The training child's view: the stored dataset read back and parsed as the engine expects. */
export async function loadStoredDataset(store: ArtifactStore, key: string): Promise<Dataset> {
  const { manifest, files } = await readStoredDataset(store, key);
  try {
    return parseDataset({ manifest, files });
  } catch (err) {
    // Checked at upload: failing now means the stored files changed underneath.
    if (err instanceof ResourceError) throw new DataError((err.reason as never) ?? 'empty', `stored dataset ${key}: ${err.message}`);
    throw err;
  }
}

const invalid = (message: string) => new ResourceError(400, 'invalid_upload', message);
