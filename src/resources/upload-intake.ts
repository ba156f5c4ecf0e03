/**
 * How the API takes an upload (a dataset or a model): one of the process's upload slots is held from
 * before the body is read until the upload is checked and recorded; the body streams into the store
 * under the upload's folder within MAX_UPLOAD_BYTES; a tenant at its storage quota is refused. Every
 * refusal is a ResourceError, which the API answers as problem+json with its status and code.
 */
import type { Multipart } from '@fastify/multipart';
import type { Db } from '../db/client.js';
import { tenantUsage } from '../jobs/tenant-usage.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import type { CheckLimits } from './upload-checks.js';
import { UploadSlots } from './upload-slots.js';
import { readUpload, type Upload, type WholeFields } from './upload.js';

/** The settings of src/config.ts an upload is taken under. */
export interface IntakeConfig {
  MAX_UPLOAD_BYTES: number;
  MAX_STORED_BYTES_PER_TENANT: number;
  UPLOAD_CHECK_CONCURRENCY: number;
  UPLOAD_CHECK_QUEUE: number;
  UPLOAD_CHECK_TIMEOUT_MS: number;
  UPLOAD_CHECK_MEMORY_MB: number;
}

/** What the API process takes uploads with (its ApiDeps): one set of upload slots per Intake. */
export interface Intake {
  db: Db;
  store: ArtifactStore;
  config: IntakeConfig;
}

/** The request an upload comes in (a Fastify request with @fastify/multipart, as the API's routes have it). */
export interface UploadRequest {
  caller: { tenantId: string };
  isMultipart(): boolean;
  parts(): AsyncIterable<Multipart>;
}

export const checkLimits = (config: IntakeConfig): CheckLimits => ({ memoryMb: config.UPLOAD_CHECK_MEMORY_MB, timeoutMs: config.UPLOAD_CHECK_TIMEOUT_MS });

// One set of check slots per API process (per Intake), shared by dataset and model uploads and model exports:
// each holder may start a check child, so together they bound how many run at once.
const slotsOf = new WeakMap<Intake, UploadSlots>();

function slotsFor(intake: Intake): UploadSlots {
  let slots = slotsOf.get(intake);
  if (!slots) {
    const { UPLOAD_CHECK_CONCURRENCY: concurrency, UPLOAD_CHECK_QUEUE: queue, UPLOAD_CHECK_TIMEOUT_MS: waitMs } = intake.config;
    slots = new UploadSlots({ concurrency, queue, waitMs });
    slotsOf.set(intake, slots);
  }
  return slots;
}

/**
 * Runs `work` (which starts a check child: an export of a stored model) while holding one of the check
 * slots. Exports write files the tenant's storage counts, so a tenant at its quota is refused first (the
 * size of what an export writes is only known once it is made: the check is that room is left).
 */
export async function withCheckSlot<T>(intake: Intake, tenantId: string, work: () => Promise<T>): Promise<T> {
  const quota = intake.config.MAX_STORED_BYTES_PER_TENANT;
  const { storedBytes } = await tenantUsage(intake.db, tenantId);
  if (storedBytes >= quota) throw storageFull(`stored bytes (${storedBytes}) are at the quota of ${quota}`);
  const release = await slotsFor(intake).acquire(tenantId);
  try {
    return await work();
  } finally {
    release();
  }
}

/**
 * Receives an upload and hands it to `create` while holding one of the process's upload slots (taken
 * before the body is read, released when `create` is done): a full house is refused with 503 and Retry-After.
 */
export async function withUploadSlot<T>(
  intake: Intake,
  request: UploadRequest,
  what: string,
  folder: { key: string; whole?: WholeFields },
  create: (upload: Upload) => Promise<T>,
): Promise<T> {
  if (!request.isMultipart()) throw new ResourceError(415, 'unsupported_media_type', `send ${what} as multipart/form-data`);
  const release = await asUploadFault(() => slotsFor(intake).acquire(request.caller.tenantId));
  try {
    const upload = await receiveUpload(intake, request, folder);
    return await asUploadFault(() => create(upload));
  } finally {
    release();
  }
}

/**
 * Streams a multipart upload into the store under `folder.key` within the size limit; refuses a full
 * storage quota (removing what was stored). `create` owns the folder from then on.
 */
async function receiveUpload(intake: Intake, request: UploadRequest, folder: { key: string; whole?: WholeFields }): Promise<Upload> {
  const { db, store, config } = intake;
  const upload = await asUploadFault(() => readUpload(request.parts(), config.MAX_UPLOAD_BYTES, store, folder.key, folder.whole));
  const quota = config.MAX_STORED_BYTES_PER_TENANT;
  const stored = await tenantUsage(db, request.caller.tenantId).then(
    (u) => u.storedBytes,
    async (err) => {
      await store.remove(folder.key).catch(() => {});
      throw err;
    },
  );
  if (stored + upload.bytes > quota) {
    await store.remove(folder.key).catch(() => {});
    throw storageFull(`stored bytes (${stored}) plus this upload (${upload.bytes}) are over the quota of ${quota}`);
  }
  return upload;
}

/** A tenant's storage quota refuses what would write more: uploads and exports alike. */
const storageFull = (why: string) => new ResourceError(429, 'quota_storage', `${why}: delete jobs, datasets or models`, undefined, 3600);

/** The multipart parser's own limits and a body cut short or garbled, as the upload's fault. */
async function asUploadFault<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ResourceError) throw err;
    const code = (err as { code?: string }).code ?? '';
    if (['FST_REQ_FILE_TOO_LARGE', 'FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT'].includes(code)) {
      throw new ResourceError(413, 'upload_too_large', `the upload is over the server's limits: ${(err as Error).message}`);
    }
    // Busboy's and the socket's own words for a body cut short or garbled (a client that gave up, a truncated form).
    if (
      code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' ||
      code === 'ECONNRESET' ||
      /multipart|boundary|^aborted$|Unexpected end of (form|file)|Malformed part header|Part terminated early/i.test((err as Error).message ?? '')
    ) {
      throw new ResourceError(400, 'invalid_upload', `the multipart body cannot be read: ${(err as Error).message}`);
    }
    throw err;
  }
}
