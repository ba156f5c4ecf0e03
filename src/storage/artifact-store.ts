import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
  sha256: string;
}

/**
 * Where models, checkpoints and uploads live. Keys are made by us (`jobs/<id>/…`), never by a client.
 * The directory store is the default; an object store can implement the same methods.
 */
export interface ArtifactStore {
  put(key: string, data: Uint8Array): Promise<StoredObject>;
  get(key: string): Promise<Buffer>;
  stream(key: string): Readable;
  size(key: string): Promise<number | undefined>;
  /** Removes the key and everything under it as a prefix. */
  remove(keyOrPrefix: string): Promise<void>;
  /** The entries directly under a prefix, each with when it was last written (for sweeping). */
  children(prefix: string): Promise<Array<{ name: string; modifiedAt: Date }>>;
  /** What another process (an upload check) opens the same store with: openArtifactStore(location). */
  readonly location: string;
}

const KEY_PATTERN = /^[a-z0-9_]+(\/[A-Za-z0-9_.-]+)*$/;

export class InvalidKeyError extends Error {
  override name = 'InvalidKeyError';
}

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
    return { key, bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') };
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  stream(key: string): Readable {
    return createReadStream(this.pathOf(key));
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
    if (!KEY_PATTERN.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
      throw new InvalidKeyError(`invalid artifact key: ${key}`);
    }
    const path = join(this.root, ...key.split('/'));
    if (!path.startsWith(this.root + sep)) throw new InvalidKeyError(`artifact key escapes the store: ${key}`);
    return path;
  }
}

/** The store at `location` (see ArtifactStore.location), from another process. */
export function openArtifactStore(location: string): ArtifactStore {
  return new DirectoryArtifactStore(location);
}

export const jobKey = (jobId: string, ...parts: string[]) => ['jobs', jobId, ...parts].join('/');
