import type { FastifyInstance } from 'fastify';
import { cancelJob } from '../../jobs/cancel.js';
import { dropCheckpoints } from '../../jobs/checkpoints.js';
import { createJob } from '../../jobs/create.js';
import { deleteJob } from '../../jobs/delete.js';
import { toJobObject } from '../../jobs/job-object.js';
import { admissionLimits } from '../../queue/admission.js';
import type { ApiDeps } from '../deps.js';
import { assertWritable, tenantScope, writeScope } from '../plugins/auth.js';
import { ApiProblem, invalidRequest, notFound } from '../problem.js';
import { Job, JobDeleted, JobList } from '../../contract/index.js';
import { JobCreateBody, JobIdParams, ListQuery } from '../schemas/job.js';

export async function jobRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db } = deps;

  app.post<{ Body: JobCreateBody; Reply: Job }>('/v1/jobs', { schema: { body: JobCreateBody, response: { 201: Job } } }, async (req, reply) => {
    const outcome = await createJob({ ...deps, log: req.log }, req.caller.tenantId, req.body, req.headers['idempotency-key']);
    if (outcome.kind === 'invalid') throw invalidRequest(outcome.problems);
    if (outcome.kind === 'refused')
      throw new ApiProblem(outcome.status, outcome.code, outcome.message, outcome.retryAfter ? { retry_after: outcome.retryAfter } : {});
    reply.code(201).header('location', `/v1/jobs/${outcome.job.id}`);
    if (outcome.replayed) reply.header('idempotent-replayed', 'true');
    return reply.send(toJobObject(outcome.job));
  });

  app.get<{ Querystring: { after?: string; limit?: number; status?: string }; Reply: JobList }>(
    '/v1/jobs',
    { schema: { querystring: ListQuery, response: { 200: JobList } } },
    async (req) => {
      const limit = req.query.limit ?? 20;
      const rows = await db.job.findMany({
        where: {
          ...tenantScope(req.caller),
          ...(req.query.status ? { status: req.query.status as never } : {}),
          ...(req.query.after ? { id: { lt: req.query.after } } : {}),
        },
        orderBy: { id: 'desc' },
        take: limit + 1,
      });
      return { object: 'list', data: rows.slice(0, limit).map(toJobObject), has_more: rows.length > limit };
    },
  );

  app.get<{ Params: { id: string }; Reply: Job }>('/v1/jobs/:id', { schema: { params: JobIdParams, response: { 200: Job } } }, async (req) => {
    const job = await db.job.findFirst({ where: { id: req.params.id, ...tenantScope(req.caller) } });
    if (!job) throw notFound('job', req.params.id);
    return toJobObject(job);
  });

  app.post<{ Params: { id: string }; Reply: Job }>('/v1/jobs/:id/cancel', { schema: { params: JobIdParams, response: { 200: Job } } }, async (req) => {
    await assertWritable(db, req.caller, 'job', req.params.id);
    const outcome = await cancelJob(db, deps.redis, deps.queue, deps.channelPrefix, writeScope(req.caller), req.params.id, admissionLimits(deps.config));
    if (outcome === 'missing') throw notFound('job', req.params.id);
    if (outcome === 'cancelled') await deps.notifyTerminal(req.params.id).catch((err) => req.log.warn({ err }, 'webhook not scheduled'));
    // A job cancelled while queued may have run before (a retry waiting): its checkpoints go now.
    if (outcome === 'cancelled') await dropCheckpoints(db, deps.store, req.params.id).catch((err) => req.log.warn({ err }, 'checkpoints not removed yet'));
    // A DELETE may take the job between the cancel and this read (once cancelled, it is deletable).
    const job = await db.job.findFirst({ where: { id: req.params.id } });
    if (!job) throw notFound('job', req.params.id);
    return toJobObject(job);
  });

  app.delete<{ Params: { id: string }; Reply: JobDeleted }>('/v1/jobs/:id', { schema: { params: JobIdParams, response: { 200: JobDeleted } } }, async (req) => {
    const { id } = req.params;
    await assertWritable(db, req.caller, 'job', id);
    const outcome = await deleteJob(db, deps.store, writeScope(req.caller), id);
    if (outcome.kind === 'missing') throw notFound('job', id);
    if (outcome.kind === 'active')
      throw new ApiProblem(409, 'job_active', `job ${id} is ${outcome.status}: cancel it (POST /v1/jobs/${id}/cancel) and delete it once it has ended`);
    req.log.info({ jobId: id, deletedModels: outcome.deletedModels, keptModels: outcome.keptModels, freedBytes: outcome.freedBytes }, 'job deleted');
    const kept = outcome.keptModels.map((m) => ({ id: m.id, used_by: m.usedBy }));
    return { id, object: 'job', deleted: true, deleted_models: outcome.deletedModels, kept_models: kept };
  });
}
