import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { isId, newId } from '../../ids.js';
import { BUILTIN_DATASETS, createDataset, datasetKey, deleteDataset, toDatasetObject } from '../../resources/datasets.js';
import { inUse } from '../../resources/errors.js';
import { checkLimits, withUploadSlot } from '../../resources/upload-intake.js';
import { multipartLimits } from '../../resources/upload.js';
import { Dataset, DatasetList, Deleted } from '../../contract/index.js';
import type { ApiDeps } from '../deps.js';
import { assertWritable, tenantScope, writeScope } from '../plugins/auth.js';
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

  app.post<{ Reply: Dataset }>('/v1/datasets', { schema: { response: { 200: Dataset, 201: Dataset } } }, async (req, reply) => {
    const id = newId('ds');
    const folder = { key: datasetKey(id) };
    const { row, created } = await withUploadSlot(
      deps,
      req,
      'a dataset: IDX files (train_images, train_labels, optional test_images, test_labels) or a csv file',
      folder,
      (upload) =>
        createDataset(db, store, req.caller.tenantId, id, upload, {
          dataset: { maxBytes: config.MAX_UPLOAD_BYTES, maxClasses: config.MAX_CLASSES },
          check: checkLimits(config),
        }),
    );
    return reply
      .code(created ? 201 : 200)
      .header('location', `/v1/datasets/${row.id}`)
      .send(toDatasetObject(row));
  });

  app.get<{ Querystring: { after?: string; limit?: number }; Reply: DatasetList }>(
    '/v1/datasets',
    { schema: { querystring: ListQuery, response: { 200: DatasetList } } },
    async (req) => {
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
    },
  );

  app.get<{ Params: { id: string }; Reply: Dataset }>('/v1/datasets/:id', { schema: { params: IdParams, response: { 200: Dataset } } }, async (req) => {
    const builtin = BUILTIN_DATASETS.find((d) => d.id === req.params.id);
    if (builtin) return builtin;
    const row = isId('ds', req.params.id) ? await db.dataset.findFirst({ where: { id: req.params.id, ...tenantScope(req.caller) } }) : null;
    if (!row) throw notFound('dataset', req.params.id);
    return toDatasetObject(row);
  });

  app.delete<{ Params: { id: string }; Reply: Deleted }>('/v1/datasets/:id', { schema: { params: IdParams, response: { 200: Deleted } } }, async (req) => {
    const { id } = req.params;
    if (BUILTIN_DATASETS.some((d) => d.id === id)) throw new ApiProblem(403, 'builtin_dataset', `${id} is built in and cannot be deleted`);
    await assertWritable(db, req.caller, 'dataset', id);
    const outcome = isId('ds', id) ? await deleteDataset(db, store, writeScope(req.caller), id) : { kind: 'missing' as const };
    if (outcome.kind === 'missing') throw notFound('dataset', id);
    if (outcome.kind === 'in_use') throw inUse('dataset', id, outcome.jobs);
    return { id, object: 'dataset', deleted: true };
  });
}
