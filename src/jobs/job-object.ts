import type { BackendName, Job as JobObject, JobError, JobProgress, Phase, Report } from '../contract/index.js';
import type { Job } from '../db/generated/client.js';

export type Progress = JobProgress;

export const EMPTY_PROGRESS: Progress = { epoch: null, epochs: null, step: null, steps: null, percent: 0, eta_seconds: null };

/** The job as the API shows it: snake_case, typed id, no webhook secret. */
export function toJobObject(job: Job): JobObject {
  const webhook = job.webhook as { url: string } | null;
  return {
    id: job.id,
    object: 'job' as const,
    name: job.name,
    status: job.status,
    phase: job.phase as Phase | null,
    priority: job.priority,
    progress: { ...EMPTY_PROGRESS, ...(job.progress as Partial<Progress>) },
    attempts: job.attempts,
    backend: job.backend as BackendName | null,
    spec: job.spec as Record<string, unknown>,
    metadata: job.metadata as Record<string, string>,
    max_runtime_seconds: job.maxRuntimeSeconds,
    webhook: webhook ? { url: webhook.url } : null,
    result: job.result as Report | null,
    error: job.error as JobError | null,
    last_event_seq: job.lastEventSeq,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}
