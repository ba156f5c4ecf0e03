/**
 * A multipart upload read into memory under one byte budget for all its files together: the parsers
 * need whole files, and the budget is checked chunk by chunk, so an oversized upload is refused as
 * soon as it crosses the limit, before anything is stored.
 */
import type { Multipart } from '@fastify/multipart';
import { ResourceError } from './errors.js';

export interface UploadedFile {
  /** The form field the file came in. */
  field: string;
  /** The client's file name: used only to match files to names a manifest gives, never as a path. */
  filename: string;
  bytes: Buffer;
}

export interface Upload {
  fields: Record<string, string>;
  files: UploadedFile[];
  /** Bytes of all files together. */
  bytes: number;
}

export const tooLarge = (limit: number, what = 'the upload') =>
  new ResourceError(413, 'upload_too_large', `${what} is larger than the server's limit of ${limit} bytes (MAX_UPLOAD_BYTES)`);

/** Busboy limits for uploads: a handful of named parts, none larger than the whole budget. */
export function multipartLimits(maxBytes: number) {
  return { fileSize: maxBytes, files: 16, fields: 16, parts: 32, fieldSize: 4096, fieldNameSize: 100, headerPairs: 100 };
}

export async function readUpload(parts: AsyncIterable<Multipart>, maxBytes: number): Promise<Upload> {
  const fields: Record<string, string> = {};
  const files: UploadedFile[] = [];
  let total = 0;
  for await (const part of parts) {
    if (part.type === 'field') {
      if (Object.hasOwn(fields, part.fieldname)) throw new ResourceError(400, 'invalid_upload', `field "${part.fieldname}" is given twice`);
      if (typeof part.value !== 'string' || part.valueTruncated) throw new ResourceError(400, 'invalid_upload', `field "${part.fieldname}" must be a short text value`);
      // Kept in Postgres (a dataset's or model's name), which cannot hold NUL.
      if (part.value.includes('\u0000')) throw new ResourceError(400, 'invalid_upload', `field "${part.fieldname}" must not contain the NUL character`);
      fields[part.fieldname] = part.value;
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of part.file as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(maxBytes);
      chunks.push(chunk);
    }
    if (part.file.truncated) throw tooLarge(maxBytes);
    files.push({ field: part.fieldname, filename: part.filename, bytes: Buffer.concat(chunks) });
  }
  return { fields, files, bytes: total };
}

/** Refuses form fields other than the expected ones, naming them. */
export function onlyFields(upload: Upload, allowed: readonly string[]): void {
  const unknown = Object.keys(upload.fields).filter((f) => !allowed.includes(f));
  if (unknown.length > 0) throw new ResourceError(400, 'invalid_upload', `unknown form field(s): ${unknown.join(', ')} (expected ${allowed.join(', ')})`);
}
