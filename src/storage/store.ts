/**
 * What every store is: the ArtifactStore interface, its errors, the keys it accepts, and the hashing
 * both homes (./artifact-store.ts's directory, ./s3-store.ts's bucket) do on the way in.
 */
import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
  sha256: string;
}

/**
 * Where models, checkpoints and uploads live. Keys are made by us (`jobs/<id>/…`), never by a client.
 * Two homes: a local directory (the embedded default) and an S3 bucket (s3-store.ts). A missing object
 * is an ObjectNotFoundError from get() and stream(), and undefined from size().
 */
export interface ArtifactStore {
  put(key: string, data: Uint8Array): Promise<StoredObject>;
  /** Writes a stream of any length with flat memory; nothing is visible under `key` unless it all arrived. */
  putStream(key: string, data: Readable): Promise<StoredObject>;
  get(key: string): Promise<Buffer>;
  /** The object's bytes as they arrive; a missing object makes the stream error. */
  stream(key: string): Readable;
  /** Like stream(), once the object is known to exist (rejects with ObjectNotFoundError): for answers whose status depends on it. */
  open(key: string): Promise<Readable>;
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

export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  readonly code = 'ENOENT';
  constructor(readonly key: string) {
    super(`no object at artifact key ${key}`);
  }
}

/** Throws unless `key` is one of ours: lowercase first segment, no `.`/`..` segments, no odd characters. */
export function checkKey(key: string): string {
  if (!KEY_PATTERN.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
    throw new InvalidKeyError(`invalid artifact key: ${key}`);
  }
  return key;
}

/**
 * sha256 of `data` a MiB at a time, yielding between: one hash over a 64 MiB upload would hold the API's
 * event loop ~100 ms, and WebCrypto's off-thread digest copies the whole buffer first.
 */
export async function sha256Of(data: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  const slice = 1024 ** 2;
  for (let at = 0; at < data.byteLength; at += slice) {
    hash.update(data.subarray(at, at + slice));
    if (at + slice < data.byteLength) await new Promise((resolve) => setImmediate(resolve));
  }
  return hash.digest('hex');
}

/** A pass-through that counts and hashes what flows through it (for streamed writes). */
export function hashing(): { transform: Transform; result: () => { bytes: number; sha256: string } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      done(null, chunk);
    },
  });
  return { transform, result: () => ({ bytes, sha256: hash.digest('hex') }) };
}
