import type { FastifyInstance } from 'fastify';
import { canonicalJson, sha256 } from '../../jobs/canonical-json.js';
import { cancelJob } from '../../jobs/cancel.js';
import { claimKey, releaseKey } from '../../jobs/idempotency.js';
import { toJobObject } from '../../jobs/job-object.js';
import { submitJob } from '../../jobs/submit.js';
import { webhookHostAllowed } from '../../jobs/webhook-signature.js';
import { checkSpec, type EngineSpec, pickEngineSpec } from '../../ml/spec.js';
import { jobSizeProblems, type UploadedDataset } from '../../jobs/job-size.js';
import { checkReferences, referencesOf } from '../../jobs/references.js';
import { assertNever } from '../../jobs/status.js';
import type { ApiDeps } from '../deps.js';
import { tenantScope } from '../plugins/auth.js';
import { ApiProblem, invalidRequest, notFound, type FieldError } from '../problem.js';
import { JobCreateBody, JobIdParams, ListQuery } from '../schemas/job.js';

export async function jobRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db } = deps;

  app.post<{ Body: JobCreateBody }>('/v1/jobs', { schema: { body: JobCreateBody } }, async (req, reply) => {
    const body = req.body;
    const { tenantId } = req.caller;
    const spec = pickEngineSpec(body) as unknown as Record<string, unknown>;
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || key.length < 1 || key.length > 255)) {
      throw new ApiProblem(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
    }
    if (key) {
      const claim = await claimKey(db, tenantId, key, sha256(canonicalJson(body)));
      if (claim.kind === 'other_body') throw new ApiProblem(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
      if (claim.kind === 'in_flight') throw new ApiProblem(409, 'idempotency_request_in_flight', 'a request with this Idempotency-Key is still being processed; retry shortly');
      if (claim.kind === 'replay') {
        const job = await db.job.findFirst({ where: { id: claim.jobId, tenantId } });
        if (job) return reply.code(201).header('location', `/v1/jobs/${job.id}`).header('idempotent-replayed', 'true').send(toJobObject(job));
      }
    }
    // Quotas are checked after the replay (in submitJob): a retried request gets its job back even if the
    // tenant is at its quota now.
    try {
      // The datasets and models it names: present, ready, and of shapes that fit (facts for the engine's checks).
      const refs = await checkReferences(db, tenantId, spec);
      const problems = [...refs.problems, ...specProblems(spec, deps.config, refs.dataset)];
      if (body.webhook && !webhookHostAllowed(body.webhook.url, deps.config.WEBHOOK_ALLOWED_HOSTS)) {
        problems.push({ field: '/webhook/url', message: 'host is not in the server\'s webhook allowlist (WEBHOOK_ALLOWED_HOSTS)' });
      }
      if (problems.length) throw invalidRequest(problems);
      const { config } = deps;
      const submission = await submitJob(
        {
          db,
          redis: deps.redis,
          queue: deps.queue,
          channelPrefix: deps.channelPrefix,
          attempts: config.JOB_ATTEMPTS,
          maxActiveJobs: config.MAX_ACTIVE_JOBS_PER_TENANT,
          maxStoredBytes: config.MAX_STORED_BYTES_PER_TENANT,
          log: req.log,
        },
        {
          tenantId,
          name: body.name,
          spec,
          metadata: body.metadata ?? {},
          priority: body.priority ?? 'normal',
          maxRuntimeSeconds: body.max_runtime_seconds,
          webhook: body.webhook,
          references: referencesOf(spec),
          ...(key ? { idempotencyKey: key } : {}),
        },
      );
      switch (submission.kind) {
        case 'created':
          return reply.code(201).header('location', `/v1/jobs/${submission.job.id}`).send(toJobObject(submission.job));
        case 'quota_active_jobs':
          throw new ApiProblem(429, 'quota_active_jobs', `at most ${config.MAX_ACTIVE_JOBS_PER_TENANT} jobs may be queued or running at once`, { retry_after: 30 });
        case 'quota_storage':
          throw new ApiProblem(429, 'quota_storage', `stored bytes (${submission.storedBytes}) are at the quota of ${config.MAX_STORED_BYTES_PER_TENANT}: delete jobs, datasets or models`, { retry_after: 3600 });
        case 'reference_deleted':
          throw new ApiProblem(409, 'reference_deleted', `${submission.gone.join(', ')} was deleted while this job was being submitted`);
        default:
          return assertNever(submission);
      }
    } catch (err) {
      if (key) await releaseKey(db, tenantId, key).catch(() => {});
      throw err;
    }
  });

  app.get<{ Querystring: { after?: string; limit?: number; status?: string } }>('/v1/jobs', { schema: { querystring: ListQuery } }, async (req) => {
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
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', { schema: { params: JobIdParams } }, async (req) => {
    const job = await db.job.findFirst({ where: { id: req.params.id, ...tenantScope(req.caller) } });
    if (!job) throw notFound('job', req.params.id);
    return toJobObject(job);
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', { schema: { params: JobIdParams } }, async (req) => {
    const outcome = await cancelJob(db, deps.redis, deps.queue, deps.channelPrefix, tenantScope(req.caller), req.params.id);
    if (outcome === 'missing') throw notFound('job', req.params.id);
    if (outcome === 'cancelled') await deps.notifyTerminal(req.params.id).catch((err) => req.log.warn({ err }, 'webhook not scheduled'));
    return toJobObject(await db.job.findFirstOrThrow({ where: { id: req.params.id } }));
  });
}

/** The engine's own checks, deepest field first, then the server's limits on job size. */
function specProblems(spec: Record<string, unknown>, config: ApiDeps['config'], uploaded?: UploadedDataset): FieldError[] {
  const seen = new Set<string>();
  const problems = checkSpec(spec, uploaded?.facts)
    .map((p) => {
      // A missing property is named as its own field, like the schema-validated fields around it.
      const missing = /^must have required propert(?:y|ies) ([\w]+)/.exec(p.message)?.[1];
      return { field: missing ? `${p.path}/${missing}` : p.path || '/', message: p.message };
    })
    .filter((p) => !seen.has(`${p.field} ${p.message}`) && seen.add(`${p.field} ${p.message}`))
    .filter((p) => p.message !== 'must match a schema in anyOf')
    .sort((a, b) => b.field.split('/').length - a.field.split('/').length);
  if (problems.length) return problems;
  return jobSizeProblems(spec as unknown as EngineSpec, { maxEpochs: config.MAX_EPOCHS, maxSampleEpochs: config.MAX_SAMPLE_EPOCHS, maxModelMacs: config.MAX_MODEL_MACS }, uploaded);
}
