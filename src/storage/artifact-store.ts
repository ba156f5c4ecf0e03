import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3_LOCATION, S3ArtifactStore, s3Location, type S3Settings } from './s3-store.js';
import { type ArtifactStore, checkKey, hashing, InvalidKeyError, ObjectNotFoundError, sha256Of, type StoredObject } from './store.js';

export { type ArtifactStore, checkKey, hashing, InvalidKeyError, ObjectNotFoundError, sha256Of, type StoredObject } from './store.js';
export { s3Location } from './s3-store.js';

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

export class DirectoryArtifactStore implements ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get location(): string {
    return this.root;
  }

  async put(key: string, data: Uint8Array): Promise<StoredObject> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename: a reader never sees half a file, and a crash leaves no partial artifact.
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, data);
    await rename(temp, path);
    return { key, bytes: data.byteLength, sha256: await sha256Of(data) };
  }

  async putStream(key: string, data: Readable): Promise<StoredObject> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
    const counted = hashing();
    try {
      await pipeline(data, counted.transform, createWriteStream(temp));
      await rename(temp, path);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return { key, ...counted.result() };
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      throw isMissing(err) ? new ObjectNotFoundError(key) : err;
    }
  }

  stream(key: string): Readable {
    const out = new PassThrough();
    const file = createReadStream(this.pathOf(key));
    file.once('error', (err) => out.destroy(isMissing(err) ? new ObjectNotFoundError(key) : err));
    return file.pipe(out);
  }

  async open(key: string): Promise<Readable> {
    try {
      return (await open(this.pathOf(key))).createReadStream();
    } catch (err) {
      throw isMissing(err) ? new ObjectNotFoundError(key) : err;
    }
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch {
      return undefined;
    }
  }

  async remove(keyOrPrefix: string): Promise<void> {
    await rm(this.pathOf(keyOrPrefix), { recursive: true, force: true });
  }

  async children(prefix: string): Promise<Array<{ name: string; modifiedAt: Date }>> {
    const dir = this.pathOf(prefix);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const entries = await Promise.all(names.map(async (name) => ({ name, modifiedAt: (await stat(join(dir, name)).catch(() => undefined))?.mtime })));
    return entries.filter((e): e is { name: string; modifiedAt: Date } => e.modifiedAt !== undefined);
  }

  private pathOf(key: string): string {
    const path = join(this.root, ...checkKey(key).split('/'));
    if (!path.startsWith(this.root + sep)) throw new InvalidKeyError(`artifact key escapes the store: ${key}`);
    return path;
  }
}

/**
 * The store at `location` (see ArtifactStore.location), from another process. A location is a directory
 * path, or `s3:` and the bucket's settings as JSON (credentials included when configured: it travels
 * over IPC to our own child processes only, never in argv or logs).
 */
export function openArtifactStore(location: string): ArtifactStore {
  if (location.startsWith(S3_LOCATION)) return new S3ArtifactStore(JSON.parse(location.slice(S3_LOCATION.length)) as S3Settings);
  return new DirectoryArtifactStore(location);
}

/** What the store settings of src/config.ts name (passed in, so this module reads no environment). */
export interface StoreConfig {
  ARTIFACT_STORE: 'fs' | 's3';
  ARTIFACT_DIR: string;
  S3_BUCKET: string;
  S3_PREFIX: string;
  S3_ENDPOINT: string;
  S3_REGION: string;
  S3_FORCE_PATH_STYLE: boolean;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_SESSION_TOKEN: string;
}

/** The configured store's location: what every process (API, worker, their children) opens. */
export function storeLocation(config: StoreConfig): string {
  if (config.ARTIFACT_STORE === 'fs') return resolve(config.ARTIFACT_DIR);
  if (!config.S3_BUCKET) throw new Error('ARTIFACT_STORE=s3 needs S3_BUCKET (the bucket of the artifact store)');
  const credentials = config.AWS_ACCESS_KEY_ID
    ? {
        accessKeyId: config.AWS_ACCESS_KEY_ID,
        secretAccessKey: config.AWS_SECRET_ACCESS_KEY,
        ...(config.AWS_SESSION_TOKEN ? { sessionToken: config.AWS_SESSION_TOKEN } : {}),
      }
    : undefined;
  return s3Location({
    bucket: config.S3_BUCKET,
    prefix: config.S3_PREFIX,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

export const openConfiguredStore = (config: StoreConfig): ArtifactStore => openArtifactStore(storeLocation(config));

export const jobKey = (jobId: string, ...parts: string[]) => ['jobs', jobId, ...parts].join('/');
/** Where a model stored on its own (uploaded, or kept after its job was deleted) keeps its files. */
export const modelKey = (modelId: string) => `models/${modelId}`;
