/**
 * What a job request must pass before it is submitted, as problems naming the field: the datasets and
 * models it names (present, ready, of shapes that fit), the engine's own checks deepest field first,
 * the server's limits on job size, and the webhook's host.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { checkSpec, type EngineSpec } from '../ml/tfjs-free.js';
import { jobSizeProblems, type JobReferences } from './job-size.js';
import { checkReferences } from './references.js';
import { webhookHostAllowed } from './webhook-signature.js';

export interface FieldProblem {
  /** JSON pointer to the offending field, e.g. `/student/training/epochs`. */
  field: string;
  message: string;
}

export type CheckConfig = Pick<Config, 'MAX_EPOCHS' | 'MAX_SAMPLE_EPOCHS' | 'MAX_MODEL_MACS' | 'WORKER_MEMORY_BUDGET_MB' | 'WEBHOOK_ALLOWED_HOSTS'>;

export async function jobRequestProblems(
  db: Db,
  config: CheckConfig,
  tenantId: string,
  spec: Record<string, unknown>,
  webhook: { url: string } | undefined,
): Promise<FieldProblem[]> {
  // The datasets and models it names: present, ready, and of shapes that fit (facts for the engine's checks).
  const refs = await checkReferences(db, tenantId, spec);
  const problems = [...refs.problems, ...specProblems(spec, config, refs)];
  if (webhook && !webhookHostAllowed(webhook.url, config.WEBHOOK_ALLOWED_HOSTS)) {
    problems.push({ field: '/webhook/url', message: "host is not in the server's webhook allowlist (WEBHOOK_ALLOWED_HOSTS)" });
  }
  return problems;
}

/** The engine's own checks, deepest field first, then the server's limits on job size. */
function specProblems(spec: Record<string, unknown>, config: CheckConfig, refs: JobReferences): FieldProblem[] {
  const uploaded = refs.dataset;
  const seen = new Set<string>();
  const problems = checkSpec(spec, uploaded?.facts)
    .map((p) => {
      // A missing property is named as its own field, like the schema-validated fields around it.
      const field =
        p.keyword === 'required' && p.missingProperty ? `${p.path}/${p.missingProperty.replaceAll('~', '~0').replaceAll('/', '~1')}` : p.path || '/';
      return { field, message: p.message };
    })
    .filter((p) => !seen.has(`${p.field} ${p.message}`) && seen.add(`${p.field} ${p.message}`))
    .sort((a, b) => b.field.split('/').length - a.field.split('/').length);
  if (problems.length) return problems;
  return jobSizeProblems(
    spec as unknown as EngineSpec,
    {
      maxEpochs: config.MAX_EPOCHS,
      maxSampleEpochs: config.MAX_SAMPLE_EPOCHS,
      maxModelMacs: config.MAX_MODEL_MACS,
      memoryBudgetMb: config.WORKER_MEMORY_BUDGET_MB,
    },
    refs,
  );
}
