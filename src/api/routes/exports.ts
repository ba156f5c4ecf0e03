/**
 * Exports after the fact, without retraining: `POST /v1/jobs/{id}/exports` writes a succeeded job's
 * models in more formats (ONNX) and quantized variants of its student, as new artifacts beside the
 * old, and adds their rows to the job's report; `GET /v1/models/{id}/model.onnx` exports a stored model
 * (uploaded or a job's) on request.
 * A model the exporter cannot express is a 400 naming the layer.
 */
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { recordJobExports } from '../../jobs/job-exports.js';
import { storedResources } from '../../jobs/references.js';
import { type EngineSpec, type ExportSpec, ExportSpecSchema, resolveExport } from '../../ml/tfjs-free.js';
import { publicLink } from '../../public-link.js';
import { ResourceError } from '../../resources/errors.js';
import { checkLimits, withCheckSlot } from '../../resources/upload-intake.js';
import { exportInChild, exportOnnxInChild } from '../../resources/upload-checks.js';
import { jobKey } from '../../storage/artifact-store.js';
import type { ApiDeps } from '../deps.js';
import { assertWritable, tenantScope } from '../plugins/auth.js';
import { ApiProblem, invalidRequest, notFound } from '../problem.js';
import { JobIdParams } from '../schemas/job.js';

const MODEL_KINDS = /^(student|teacher\d*|baseline)$/;
const ModelOnnxQuery = Type.Object({ quantize: Type.Optional(Type.Union([Type.Literal('float16'), Type.Literal('uint8')])) }, { additionalProperties: false });

/** A model the exporter cannot express is the request's fault: 400 naming the field; anything else as it is. */
const refused = (err: unknown, field: string) =>
  err instanceof ResourceError && err.code === 'export_unsupported' ? invalidRequest([{ field, message: err.message }]) : err;

export async function exportRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db, store, config } = deps;

  app.post<{ Params: { id: string }; Body: ExportSpec }>('/v1/jobs/:id/exports', { schema: { params: JobIdParams, body: ExportSpecSchema } }, async (req) => {
    const { id } = req.params;
    const job = await db.job.findFirst({
      where: { id, ...tenantScope(req.caller) },
      select: { id: true, tenantId: true, status: true, spec: true, artifacts: true },
    });
    if (!job) throw notFound('job', id);
    await assertWritable(db, req.caller, 'job', id);
    if (job.status !== 'succeeded') throw new ApiProblem(409, 'job_not_succeeded', `job ${id} is ${job.status}: only a succeeded job's models can be exported`);
    const request = resolveExport(req.body);
    const models = job.artifacts
      .filter((a) => a.file === 'model.json' && MODEL_KINDS.test(a.kind))
      .map((a) => ({ kind: a.kind, key: a.storageKey.slice(0, -'/model.json'.length) }));
    const finished = {
      spec: job.spec as unknown as EngineSpec,
      datasets: (await storedResources(db, job.tenantId, job.spec)).datasets,
      models,
      stored: job.artifacts.map((a) => `${a.kind}/${a.file}`),
    };
    const made = await withCheckSlot(deps, req.caller.tenantId, () =>
      exportInChild(store, finished, request, jobKey(id, 'exports'), checkLimits(config)),
    ).catch((err: unknown) => {
      throw refused(err, '/formats');
    });
    // Deleted while its exports were made: what they wrote goes with the job's folder (the orphan sweep).
    if (!(await recordJobExports(db, store, id, made))) throw notFound('job', id);
    const artifacts = await db.artifact.findMany({ where: { jobId: id }, orderBy: [{ kind: 'asc' }, { file: 'asc' }] });
    return {
      object: 'list',
      has_more: false,
      data: artifacts.map((a) => ({
        object: 'artifact',
        id: a.id,
        kind: a.kind,
        file: a.file,
        bytes: Number(a.bytes),
        sha256: a.sha256,
        url: publicLink(config.PUBLIC_URL, `/v1/jobs/${id}/artifacts/${a.kind}/${a.file}`),
        created_at: a.createdAt.toISOString(),
      })),
    };
  });

  app.get<{ Params: { id: string }; Querystring: { quantize?: 'float16' | 'uint8' } }>(
    '/v1/models/:id/model.onnx',
    { schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }) }), querystring: ModelOnnxQuery } },
    async (req, reply) => {
      const row = await db.model.findFirst({ where: { id: req.params.id, ...tenantScope(req.caller) } });
      if (!row) throw notFound('model', req.params.id);
      const { quantize } = req.query;
      // An uploaded ONNX model is its own export, served as stored; a tfjs model's export is made once
      // (in the check child) and kept beside the model, so it goes when the model or its job goes.
      if (row.format === 'onnx' && quantize)
        throw invalidRequest([
          { field: 'querystring:/quantize', message: `model ${row.id} was uploaded as ONNX: it is served as uploaded, without quantization` },
        ]);
      const key = row.format === 'onnx' ? `${row.storageKey}/model.onnx` : `${row.storageKey}/exports/model${quantize ? `-${quantize}` : ''}.onnx`;
      let size = await store.size(key);
      if (size === undefined && row.format === 'onnx') throw notFound('model file', `${row.id}/model.onnx`);
      if (size === undefined) {
        const made = await withCheckSlot(deps, req.caller.tenantId, () => exportOnnxInChild(store, row.storageKey, quantize, key, checkLimits(config))).catch(
          (err: unknown) => {
            throw refused(err, 'params:/id');
          },
        );
        size = made.bytes;
        // Counted in the tenant's storage from now on; a second request making the same file counts it once.
        const file = key.slice(key.lastIndexOf('/') + 1);
        await db.$executeRaw`UPDATE models SET exports = exports || jsonb_build_object(${file}::text, ${made.bytes}::bigint) WHERE id = ${row.id}`;
      }
      return reply
        .type('application/octet-stream')
        .header('content-length', String(size))
        .header('cache-control', 'private, max-age=31536000, immutable')
        .header('access-control-allow-origin', '*')
        .send(store.stream(key));
    },
  );
}
