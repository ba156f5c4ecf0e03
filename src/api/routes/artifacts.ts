import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { tenantScope } from '../plugins/auth.js';
import { ObjectNotFoundError } from '../../storage/artifact-store.js';
import { notFound } from '../problem.js';
import type { ArtifactFile, ArtifactKind } from '../../contract/index.js';
import { ArtifactList } from '../../contract/index.js';
import { publicLink } from '../../public-link.js';
import { ArtifactParams, JobIdParams } from '../schemas/job.js';

const CONTENT_TYPES: Record<string, string> = {
  'model.json': 'application/json',
  'report.json': 'application/json',
  'weights.bin': 'application/octet-stream',
};

/**
 * A finished job's models and report. A model's files sit side by side, so
 * `tf.loadLayersModel('<base>/v1/jobs/<id>/artifacts/student/model.json')` finds weights.bin itself.
 */
export async function artifactRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db } = deps;

  app.get<{ Params: { id: string }; Reply: ArtifactList }>(
    '/v1/jobs/:id/artifacts',
    { schema: { params: JobIdParams, response: { 200: ArtifactList } } },
    async (req) => {
      const job = await db.job.findFirst({
        where: { id: req.params.id, ...tenantScope(req.caller) },
        select: { id: true, artifacts: { orderBy: [{ kind: 'asc' }, { file: 'asc' }] } },
      });
      if (!job) throw notFound('job', req.params.id);
      return {
        object: 'list',
        has_more: false,
        data: job.artifacts.map((a) => ({
          object: 'artifact',
          id: a.id,
          kind: a.kind as ArtifactKind,
          file: a.file as ArtifactFile,
          bytes: Number(a.bytes),
          sha256: a.sha256,
          url: publicLink(deps.config.PUBLIC_URL, `/v1/jobs/${job.id}/artifacts/${a.kind}/${a.file}`),
          created_at: a.createdAt.toISOString(),
        })),
      };
    },
  );

  app.get<{ Params: { id: string; kind: string; file: string } }>(
    '/v1/jobs/:id/artifacts/:kind/:file',
    { schema: { params: ArtifactParams } },
    async (req, reply) => {
      const { id, kind, file } = req.params;
      const artifact = await db.artifact.findFirst({ where: { jobId: id, kind, file, job: tenantScope(req.caller) } });
      if (!artifact) throw notFound('artifact', `${id}/${kind}/${file}`);
      // Opened before the answer starts (from the bucket, the GET's response has arrived), so an object
      // gone from the store is a 404 rather than a 200 cut short. Then streamed: flat memory at any size.
      const body = await deps.store.open(artifact.storageKey).catch((err: unknown) => {
        throw err instanceof ObjectNotFoundError ? notFound('artifact', `${id}/${kind}/${file}`) : err;
      });
      return reply
        .type(CONTENT_TYPES[file] ?? 'application/octet-stream')
        .header('content-length', String(artifact.bytes))
        .header('etag', `"${artifact.sha256}"`)
        .header('cache-control', 'private, max-age=31536000, immutable')
        .header('access-control-allow-origin', '*')
        .send(body);
    },
  );
}
