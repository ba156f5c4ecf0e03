/**
 * The artifact store in an S3 bucket (AWS S3 or any S3-compatible store: MinIO, Ceph RGW, R2…), on the
 * AWS SDK v3. Writes go through lib-storage's Upload (multipart past one part, a few parts in flight),
 * reads stream the response body: memory stays flat whatever an object's size.
 */
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ArtifactStore, checkKey, hashing, ObjectNotFoundError, sha256Of, type StoredObject } from './store.js';

export interface S3Settings {
  bucket: string;
  /** Prepended to every key: empty, or ending in `/`. */
  prefix: string;
  region: string;
  forcePathStyle: boolean;
  endpoint?: string;
  /** Absent: the SDK's default provider chain (profile, web identity, container or instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Multipart part size, and parts in flight at once: a streamed write holds about their product. */
const PART_BYTES = 8 * 1024 ** 2;
const PARTS_IN_FLIGHT = 3;
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;

const isMissing = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
};

/** The prefix of an S3 store's location (ArtifactStore.location); the bucket's settings follow as JSON. */
export const S3_LOCATION = 's3:';

export function s3Location(settings: S3Settings): string {
  return S3_LOCATION + JSON.stringify(settings);
}

export class S3ArtifactStore implements ArtifactStore {
  readonly client: S3Client;

  constructor(readonly settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      // Checksums only where S3 requires them: many S3-compatible stores reject the newer CRC trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get location(): string {
    return s3Location(this.settings);
  }

  async put(key: string, data: Uint8Array): Promise<StoredObject> {
    const sha256 = await sha256Of(data);
    await this.upload(key, data);
    return { key, bytes: data.byteLength, sha256 };
  }

  async putStream(key: string, data: Readable): Promise<StoredObject> {
    const counted = hashing();
    const body = new PassThrough();
    // The source feeds the hash, the hash feeds the upload; a failing source fails (and aborts) both.
    const feeding = pipeline(data, counted.transform, body);
    await Promise.all([feeding, this.upload(key, body)]).catch((err) => {
      body.destroy();
      throw err;
    });
    return { key, ...counted.result() };
  }

  async get(key: string): Promise<Buffer> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      throw isMissing(err) ? new ObjectNotFoundError(key) : err;
    }
  }

  stream(key: string): Readable {
    const out = new PassThrough();
    const objectKey = this.objectKey(key);
    this.client
      .send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: objectKey }), { abortSignal: abortWhenClosed(out) })
      .then((res) => pipeline(res.Body as Readable, out))
      .catch((err: unknown) => out.destroy(isMissing(err) ? new ObjectNotFoundError(key) : (err as Error)));
    return out;
  }

  async open(key: string): Promise<Readable> {
    const out = new PassThrough();
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }), {
        abortSignal: abortWhenClosed(out),
      });
      pipeline(res.Body as Readable, out).catch((err: unknown) => out.destroy(err as Error));
      return out;
    } catch (err) {
      throw isMissing(err) ? new ObjectNotFoundError(key) : err;
    }
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      return res.ContentLength;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async remove(keyOrPrefix: string): Promise<void> {
    const objectKey = this.objectKey(keyOrPrefix);
    const keys = [objectKey];
    for await (const object of this.list(`${objectKey}/`)) keys.push(object.Key!);
    for (let at = 0; at < keys.length; at += DELETE_BATCH) {
      const res = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: keys.slice(at, at + DELETE_BATCH).map((Key) => ({ Key })), Quiet: true } }),
      );
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length) throw new Error(`could not remove ${failed.length} objects under ${keyOrPrefix}: ${failed[0]!.Code} ${failed[0]!.Message ?? ''}`);
    }
  }

  /** The entries directly under a prefix; an entry's time is the newest write of anything under it. */
  async children(prefix: string): Promise<Array<{ name: string; modifiedAt: Date }>> {
    const under = `${this.objectKey(prefix)}/`;
    const newest = new Map<string, Date>();
    for await (const object of this.list(under)) {
      const name = object.Key!.slice(under.length).split('/')[0]!;
      const at = object.LastModified ?? new Date(0);
      if (!newest.has(name) || newest.get(name)! < at) newest.set(name, at);
    }
    return [...newest].map(([name, modifiedAt]) => ({ name, modifiedAt }));
  }

  private async *list(prefix: string): AsyncGenerator<NonNullable<ListObjectsV2CommandOutput['Contents']>[number]> {
    let token: string | undefined;
    do {
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of res.Contents ?? []) if (object.Key) yield object;
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  private async upload(key: string, body: Uint8Array | Readable): Promise<void> {
    // Upload aborts its multipart upload on failure: no parts are left behind in the bucket.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.settings.bucket, Key: this.objectKey(key), Body: body },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
    });
    await upload.done();
  }

  private objectKey(key: string): string {
    return this.settings.prefix + checkKey(key);
  }
}

/** Aborts the GET when its reader goes away early (a client closing a download). */
function abortWhenClosed(stream: PassThrough): AbortSignal {
  const controller = new AbortController();
  stream.once('close', () => {
    if (!stream.readableEnded) controller.abort();
  });
  return controller.signal;
}
