/**
 * A job as the page knows it: the job object from REST, moved forward by its events so the page need
 * not re-fetch on every one. Accuracies come from the latest epoch of each model until the report
 * (test accuracy) exists.
 */
import { TERMINAL, type Job, type JobEvent, type ModelRole } from './types.js';

export interface LiveJob {
  job: Job;
  /** Latest validation (else training) accuracy per model, from epoch events. */
  accuracy: Partial<Record<ModelRole, number>>;
}

export const liveJob = (job: Job): LiveJob => ({ job, accuracy: {} });

/** Applies one event; returns true when the job reached a terminal status (re-read it for the result). */
export function applyEvent(state: LiveJob, event: JobEvent): boolean {
  const job = state.job;
  job.last_event_seq = Math.max(job.last_event_seq, event.seq);
  switch (event.type) {
    case 'status':
      job.status = event.data.status;
      if (event.data.error) job.error = event.data.error;
      return TERMINAL.has(job.status);
    case 'phase':
      job.phase = event.data.phase;
      return false;
    case 'metrics':
      job.progress = { ...job.progress, ...event.data.progress };
      return false;
    case 'epoch': {
      const e = event.data;
      job.progress = { ...job.progress, ...e.progress };
      state.accuracy[e.model] = e.val_accuracy ?? e.train_accuracy;
      return false;
    }
    default:
      return false;
  }
}

/** Test accuracy from the report when there is one, else the live figure. */
export function accuracyOf(state: LiveJob, role: ModelRole): { value: number; final: boolean } | undefined {
  const report = state.job.result?.[role];
  if (report) return { value: report.test_accuracy, final: true };
  const live = state.accuracy[role];
  return live === undefined ? undefined : { value: live, final: false };
}
