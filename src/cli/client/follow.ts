/**
 * Follows a job to its end for `distill submit --follow` and `distill watch`: progress on stderr, then
 * the outcome on stdout (the report table, or with --json the final job object), and the exit code
 * that says how the job ended.
 */
import type { ApiClient, Job } from './api-client.js';
import { exitCodeFor } from './connection.js';
import { createProgressView } from './job-progress.js';
import { formatReportTable } from './report-table.js';

export async function followToEnd(client: ApiClient, jobId: string, options: { json?: boolean }): Promise<number> {
  // JSON mode stays quiet on stderr: a script reads one document from stdout.
  const view = options.json ? undefined : createProgressView();
  // Ctrl-C stops watching, not the job: say how to reattach or cancel instead.
  const onSigint = () => {
    view?.finish();
    process.stderr.write(`\nstopped watching; the job goes on. Follow again: distill watch ${jobId} · stop it: distill cancel ${jobId}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  let job: Job;
  try {
    job = await client.followJob(jobId, (event) => view?.onEvent(event));
  } finally {
    view?.finish();
    process.off('SIGINT', onSigint);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  } else if (job.status === 'succeeded' && job.result) {
    process.stdout.write(`\n${formatReportTable(job.result)}`);
    process.stdout.write(`student: distill models download ${job.id} --out DIR\n`);
  } else if (job.status === 'failed') {
    process.stderr.write(`job ${job.id} failed: ${job.error?.message ?? 'no reason given'} (${job.error?.code ?? 'unknown'})\n`);
  } else {
    process.stderr.write(`job ${job.id} ${job.status}\n`);
  }
  return exitCodeFor(job.status);
}
