import type { Job } from '../db/generated/client.js';

export interface Progress {
  epoch: number | null;
  epochs: number | null;
  step: number | null;
  steps: number | null;
  percent: number;
  eta_seconds: number | null;
}

export const EMPTY_PROGRESS: Progress = { epoch: null, epochs: null, step: null, steps: null, percent: 0, eta_seconds: null };

/** The job as the API shows it: snake_case, typed id, no webhook secret. */
export function toJobObject(job: Job) {
  const webhook = job.webhook as { url: string } | null;
  return {
    id: job.id,
    object: 'job' as const,
    name: job.name,
    status: job.status,
    phase: job.phase,
    priority: job.priority,
    progress: { ...EMPTY_PROGRESS, ...(job.progress as Partial<Progress>) },
    attempts: job.attempts,
    backend: job.backend,
    spec: job.spec,
    metadata: job.metadata,
    max_runtime_seconds: job.maxRuntimeSeconds,
    webhook: webhook ? { url: webhook.url } : null,
    result: job.result,
    error: job.error,
    last_event_seq: job.lastEventSeq,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}

export type JobObject = ReturnType<typeof toJobObject>;
