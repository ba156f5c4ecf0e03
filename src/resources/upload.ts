/**
 * A multipart upload streamed into the store under one byte budget for all its files together: each
 * file goes from its part straight into `<folder>/file-<n>.upload` (putStream), hashed and counted
 * chunk by chunk as it arrives, so the API never holds a dataset or weight file whole. An upload that
 * crosses the budget is refused as soon as it does, and a refused upload leaves nothing stored.
 */
import { createHash } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';
import type { Multipart } from '@fastify/multipart';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';

/** Bytes of a file's start kept in memory (to sniff gzip or binary content without reading it back). */
export const HEAD_BYTES = 4096;

export interface UploadedFile {
  /** The form field the file came in. */
  field: string;
  /** The client's file name: used only to match files to names a manifest gives, never as a path. */
  filename: string;
  /** Its size in bytes, as received. */
  size: number;
  /** sha256 of the file (hex), computed chunk by chunk as it arrives. */
  sha256: string;
  /** Its first HEAD_BYTES bytes. */
  head: Buffer;
  /** Where it is stored (`<folder>/file-<n>.upload`); absent for a file kept in memory (`whole`). */
  key?: string;
  /** The whole file, only for fields read into memory (`whole`) and only up to `whole.maxBytes`. */
  bytes?: Buffer;
}

/** Fields read into memory instead of stored (a model's model.json), each kept up to maxBytes. */
export interface WholeFields {
  fields: readonly string[];
  maxBytes: number;
}

export interface Upload {
  fields: Record<string, string>;
  files: UploadedFile[];
  /** Bytes of all files together. */
  bytes: number;
}

/** A name from an upload (a form field, a file name) for a message: quoted, escaped, cut short. */
export function quoted(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\ufffd]/gu, (c) =>
    Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

export const tooLarge = (limit: number, what = 'the upload') =>
  new ResourceError(413, 'upload_too_large', `${what} is larger than the server's limit of ${limit} bytes (MAX_UPLOAD_BYTES)`);

/** Busboy limits for uploads: a handful of named parts, none larger than the whole budget. */
export function multipartLimits(maxBytes: number) {
  return { fileSize: maxBytes, files: 16, fields: 16, parts: 32, fieldSize: 4096, fieldNameSize: 100, headerPairs: 100 };
}

/**
 * Reads the form: fields into memory, files streamed into the store under `folder`. On any failure
 * (budget crossed, a body cut short, a field refused) everything written under `folder` is removed.
 */
export async function readUpload(
  parts: AsyncIterable<Multipart>,
  maxBytes: number,
  store: ArtifactStore,
  folder: string,
  whole?: WholeFields,
): Promise<Upload> {
  try {
    return await receive(parts, maxBytes, store, folder, whole);
  } catch (err) {
    await store.remove(folder).catch(() => {});
    throw err;
  }
}

async function receive(parts: AsyncIterable<Multipart>, maxBytes: number, store: ArtifactStore, folder: string, whole?: WholeFields): Promise<Upload> {
  const fields: Record<string, string> = {};
  const files: UploadedFile[] = [];
  let total = 0;
  for await (const part of parts) {
    if (part.type === 'field') {
      if (Object.hasOwn(fields, part.fieldname)) throw new ResourceError(400, 'invalid_upload', `field ${quoted(part.fieldname)} is given twice`);
      if (typeof part.value !== 'string' || part.valueTruncated)
        throw new ResourceError(400, 'invalid_upload', `field ${quoted(part.fieldname)} must be a short text value`);
      // Kept in Postgres (a dataset's or model's name), which cannot hold NUL.
      if (part.value.includes('\u0000')) throw new ResourceError(400, 'invalid_upload', `field ${quoted(part.fieldname)} must not contain the NUL character`);
      fields[part.fieldname] = part.value;
      continue;
    }
    // Hashed as it arrives: one sha256 over a whole upload would hold the event loop.
    const hash = createHash('sha256');
    const headChunks: Buffer[] = [];
    let headBytes = 0;
    let size = 0;
    const keep = whole?.fields.includes(part.fieldname) ? whole.maxBytes : -1;
    let kept: Buffer[] | undefined = keep >= 0 ? [] : undefined;
    const budget = new Transform({
      transform(chunk: Buffer, _enc, done) {
        total += chunk.length;
        size += chunk.length;
        if (total > maxBytes) return done(tooLarge(maxBytes));
        hash.update(chunk);
        if (headBytes < HEAD_BYTES) {
          headChunks.push(chunk.subarray(0, HEAD_BYTES - headBytes));
          headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
        }
        if (kept) {
          if (size > keep) kept = undefined;
          else kept.push(chunk);
        }
        done(null, chunk);
      },
    });
    // A body cut short (an error, or the part closed before its end) fails the budget stream too.
    pipeline(part.file, budget, () => {});
    let key: string | undefined;
    try {
      if (keep >= 0) {
        // Read into memory (bounded by `whole.maxBytes`): nothing is stored.
        for await (const chunk of budget as AsyncIterable<Buffer>) void chunk;
      } else {
        key = `${folder}/file-${files.length}.upload`;
        await store.putStream(key, budget);
      }
    } catch (err) {
      (part.file as unknown as { destroy(): void }).destroy();
      throw err;
    }
    if (part.file.truncated) throw tooLarge(maxBytes);
    files.push({
      field: part.fieldname,
      filename: part.filename,
      size,
      sha256: hash.digest('hex'),
      head: Buffer.concat(headChunks),
      ...(key ? { key } : {}),
      ...(kept ? { bytes: Buffer.concat(kept) } : {}),
    });
  }
  return { fields, files, bytes: total };
}

/** Refuses form fields other than the expected ones, naming them. */
export function onlyFields(upload: Upload, allowed: readonly string[]): void {
  const unknown = Object.keys(upload.fields).filter((f) => !allowed.includes(f));
  if (unknown.length > 0) {
    const named = unknown
      .slice(0, 5)
      .map((f) => quoted(f, 40))
      .join(', ');
    throw new ResourceError(
      400,
      'invalid_upload',
      `unknown form field(s): ${named}${unknown.length > 5 ? `, … (${unknown.length - 5} more)` : ''} (expected ${allowed.join(', ')})`,
    );
  }
}
