import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { isId } from '../../ids.js';
import { tenantUsage } from '../../jobs/tenant-usage.js';
import { BUILTIN_DATASETS, createDataset, deleteDataset, toDatasetObject } from '../../resources/datasets.js';
import { ResourceError } from '../../resources/errors.js';
import { multipartLimits, readUpload, type Upload } from '../../resources/upload.js';
import type { ApiDeps } from '../deps.js';
import { tenantScope } from '../plugins/auth.js';
import { ApiProblem, notFound } from '../problem.js';

// Any string: a malformed id answers 404 like one that does not exist.
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const ListQuery = Type.Object(
  {
    // A cursor is an id: letters, digits, '_' and ':' (no byte Postgres would refuse).
    after: Type.Optional(Type.String({ maxLength: 64, pattern: '^[A-Za-z0-9_:]+$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  },
  { additionalProperties: false },
);

/**
 * Datasets: multipart uploads (IDX files or a CSV) checked by the engine's loaders, listed after the
 * built-in ones, deletable while no queued or running job uses them.
 */
export async function datasetRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db, store, config } = deps;
  await app.register(multipart, { limits: multipartLimits(config.MAX_UPLOAD_BYTES) });

  app.post('/v1/datasets', async (req, reply) => {
    const upload = await receiveUpload(req, deps, 'a dataset: IDX files (train_images, train_labels, optional test_images, test_labels) or a csv file');
    const { row, created } = await asProblem(() => createDataset(db, store, req.caller.tenantId, upload, config.MAX_UPLOAD_BYTES));
    return reply.code(created ? 201 : 200).header('location', `/v1/datasets/${row.id}`).send(toDatasetObject(row));
  });

  app.get<{ Querystring: { after?: string; limit?: number } }>('/v1/datasets', { schema: { querystring: ListQuery } }, async (req) => {
    const limit = req.query.limit ?? 20;
    const after = req.query.after;
    // Built-ins first, then uploads newest first; a cursor in the built-ins continues after it.
    const builtinAt = after === undefined ? 0 : BUILTIN_DATASETS.findIndex((d) => d.id === after) + 1;
    const builtins = after === undefined || builtinAt > 0 ? BUILTIN_DATASETS.slice(builtinAt) : [];
    const rows = await db.dataset.findMany({
      where: { ...tenantScope(req.caller), ...(after !== undefined && builtinAt === 0 ? { id: { lt: after } } : {}) },
      orderBy: { id: 'desc' },
      take: limit + 1,
    });
    const data = [...builtins, ...rows.map(toDatasetObject)];
    return { object: 'list', data: data.slice(0, limit), has_more: data.length > limit };
  });

  app.get<{ Params: { id: string } }>('/v1/datasets/:id', { schema: { params: IdParams } }, async (req) => {
    const builtin = BUILTIN_DATASETS.find((d) => d.id === req.params.id);
    if (builtin) return builtin;
    const row = isId('ds', req.params.id) ? await db.dataset.findFirst({ where: { id: req.params.id, ...tenantScope(req.caller) } }) : null;
    if (!row) throw notFound('dataset', req.params.id);
    return toDatasetObject(row);
  });

  app.delete<{ Params: { id: string } }>('/v1/datasets/:id', { schema: { params: IdParams } }, async (req) => {
    const { id } = req.params;
    if (BUILTIN_DATASETS.some((d) => d.id === id)) throw new ApiProblem(403, 'builtin_dataset', `${id} is built in and cannot be deleted`);
    const outcome = isId('ds', id) ? await deleteDataset(db, store, tenantScope(req.caller), id) : { kind: 'missing' as const };
    if (outcome.kind === 'missing') throw notFound('dataset', id);
    if (outcome.kind === 'in_use') throw inUse('dataset', id, outcome.jobs);
    return { id, object: 'dataset', deleted: true };
  });
}

/** Reads a multipart upload under the size limit; refuses other content types and a full storage quota. */
export async function receiveUpload(req: FastifyRequest, deps: ApiDeps, what: string): Promise<Upload> {
  if (!req.isMultipart()) throw new ApiProblem(415, 'unsupported_media_type', `send ${what} as multipart/form-data`);
  const upload = await asProblem(() => readUpload(req.parts(), deps.config.MAX_UPLOAD_BYTES));
  const quota = deps.config.MAX_STORED_BYTES_PER_TENANT;
  const stored = (await tenantUsage(deps.db, req.caller.tenantId)).storedBytes;
  if (stored + upload.bytes > quota) {
    throw new ApiProblem(429, 'quota_storage', `stored bytes (${stored}) plus this upload (${upload.bytes}) are over the quota of ${quota}: delete jobs, datasets or models`, { retry_after: 3600 });
  }
  return upload;
}

export function inUse(what: 'dataset' | 'model', id: string, jobs: string[]): ApiProblem {
  return new ApiProblem(409, `${what}_in_use`, `${what} ${id} is used by ${jobs.length > 1 ? 'jobs' : 'job'} ${jobs.join(', ')}, queued or running: cancel ${jobs.length > 1 ? 'them' : 'it'} or wait until ${jobs.length > 1 ? 'they finish' : 'it finishes'}`, { jobs });
}

/** ResourceErrors (and the multipart parser's own limits) as problem+json. */
export async function asProblem<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ResourceError) throw new ApiProblem(err.status, err.code, err.message, err.reason ? { reason: err.reason } : {});
    const code = (err as { code?: string }).code ?? '';
    if (['FST_REQ_FILE_TOO_LARGE', 'FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT'].includes(code)) {
      throw new ApiProblem(413, 'upload_too_large', `the upload is over the server's limits: ${(err as Error).message}`);
    }
    if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || /multipart|boundary/i.test((err as Error).message ?? '')) {
      throw new ApiProblem(400, 'invalid_upload', `the multipart body cannot be read: ${(err as Error).message}`);
    }
    throw err;
  }
}
