import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { isId, newId } from '../../ids.js';
import { MODEL_FILES, MODEL_WHOLE_FIELDS } from '../../resources/model-files.js';
import { inUse } from '../../resources/errors.js';
import { createModel, deleteModel, toModelObject } from '../../resources/models.js';
import { ONNX_FILE } from '../../resources/onnx-models.js';
import { checkLimits, withUploadSlot } from '../../resources/upload-intake.js';
import { multipartLimits } from '../../resources/upload.js';
import { Deleted, Model, ModelList } from '../../contract/index.js';
import { modelKey } from '../../storage/artifact-store.js';
import type { ApiDeps } from '../deps.js';
import { assertWritable, tenantScope, writeScope } from '../plugins/auth.js';
import { notFound } from '../problem.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const FileParams = Type.Object({ id: Type.String({ maxLength: 64 }), file: Type.Enum([...MODEL_FILES, ONNX_FILE]) });
const ListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ maxLength: 64, pattern: '^[A-Za-z0-9_]+$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    source: Type.Optional(Type.Enum(['uploaded', 'job'])),
    source_job: Type.Optional(Type.String({ maxLength: 64, pattern: '^[A-Za-z0-9_]+$' })),
  },
  { additionalProperties: false },
);

const CONTENT_TYPES: Record<string, string> = {
  'model.json': 'application/json',
  'weights.bin': 'application/octet-stream',
  [ONNX_FILE]: 'application/octet-stream',
};

/**
 * Models: uploaded teachers (what `model.save(tf.io.http('<base>/v1/models'))` sends) and every finished
 * job's student and trained teacher. Files are served so `tf.loadLayersModel('<base>/v1/models/<id>/model.json')` loads them.
 */
export async function modelRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db, store, config } = deps;
  await app.register(multipart, { limits: multipartLimits(config.MAX_UPLOAD_BYTES) });

  app.post<{ Reply: Model }>('/v1/models', { schema: { response: { 201: Model } } }, async (req, reply) => {
    const id = newId('mdl');
    const folder = { key: modelKey(id), whole: MODEL_WHOLE_FIELDS };
    const row = await withUploadSlot(
      deps,
      req,
      'a tfjs layers model (model.json and the weight files it names) or an ONNX model (model.onnx with layout, scale, mean, std, output)',
      folder,
      (upload) => createModel(db, store, req.caller.tenantId, id, upload, checkLimits(config)),
    );
    return reply.code(201).header('location', `/v1/models/${row.id}`).send(toModelObject(row, deps.config.PUBLIC_URL));
  });

  app.get<{ Querystring: { after?: string; limit?: number; source?: 'uploaded' | 'job'; source_job?: string }; Reply: ModelList }>(
    '/v1/models',
    { schema: { querystring: ListQuery, response: { 200: ModelList } } },
    async (req) => {
      const { after, source, source_job: sourceJobId } = req.query;
      const limit = req.query.limit ?? 20;
      const rows = await db.model.findMany({
        where: { ...tenantScope(req.caller), ...(source ? { source } : {}), ...(sourceJobId ? { sourceJobId } : {}), ...(after ? { id: { lt: after } } : {}) },
        orderBy: { id: 'desc' },
        take: limit + 1,
      });
      return { object: 'list', data: rows.slice(0, limit).map((row) => toModelObject(row, deps.config.PUBLIC_URL)), has_more: rows.length > limit };
    },
  );

  const findModel = async (id: string, scope: { tenantId?: string }) => {
    const row = isId('mdl', id) ? await db.model.findFirst({ where: { id, ...scope } }) : null;
    if (!row) throw notFound('model', id);
    return row;
  };

  app.get<{ Params: { id: string }; Reply: Model }>('/v1/models/:id', { schema: { params: IdParams, response: { 200: Model } } }, async (req) =>
    toModelObject(await findModel(req.params.id, tenantScope(req.caller)), deps.config.PUBLIC_URL),
  );

  app.get<{ Params: { id: string; file: (typeof MODEL_FILES)[number] | typeof ONNX_FILE } }>(
    '/v1/models/:id/:file',
    { schema: { params: FileParams } },
    async (req, reply) => {
      const row = await findModel(req.params.id, tenantScope(req.caller));
      const key = `${row.storageKey}/${req.params.file}`;
      const size = await store.size(key);
      if (size === undefined) throw notFound('model file', `${row.id}/${req.params.file}`);
      return reply
        .type(CONTENT_TYPES[req.params.file]!)
        .header('content-length', String(size))
        .header('cache-control', 'private, max-age=31536000, immutable')
        .header('access-control-allow-origin', '*')
        .send(store.stream(key));
    },
  );

  app.delete<{ Params: { id: string }; Reply: Deleted }>('/v1/models/:id', { schema: { params: IdParams, response: { 200: Deleted } } }, async (req) => {
    const { id } = req.params;
    await assertWritable(db, req.caller, 'model', id);
    const outcome = isId('mdl', id) ? await deleteModel(db, store, writeScope(req.caller), id) : { kind: 'missing' as const };
    if (outcome.kind === 'missing') throw notFound('model', id);
    if (outcome.kind === 'in_use') throw inUse('model', id, outcome.jobs);
    return { id, object: 'model', deleted: true };
  });
}
