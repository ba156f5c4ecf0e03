/**
 * `distill jobs`: the newest jobs as a table (or the API's list object with --json).
 * `distill jobs delete ID`: deletes a finished job, after a confirmation unless --yes.
 */
import type { Command } from 'commander';
import type { Job, JobDeleted } from '../client/api-client.js';
import { clientFrom, EXIT, InputError, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';

interface JobsOptions extends ConnectionOptions {
  status?: string;
  limit: string;
  after?: string;
}

export function registerJobsCommand(program: Command): void {
  const jobs = withConnection(
    program
      .command('jobs')
      .description('list jobs, newest first')
      .option('--status <status>', 'only jobs in this status: queued, running, cancelling, succeeded, failed, cancelled')
      .option('--limit <n>', 'how many (1 to 100)', '20')
      .option('--after <id>', 'the page after this job id (for paging through older jobs)'),
  ).action(
    runAction(async (options: JobsOptions) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InputError('--limit must be an integer from 1 to 100');
      const list = await clientFrom(options).listJobs({ limit, status: options.status, after: options.after });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return EXIT.ok;
      }
      if (list.data.length === 0) {
        process.stdout.write('no jobs\n');
        return EXIT.ok;
      }
      process.stdout.write(formatJobsTable(list.data, new Date()));
      if (list.has_more) process.stdout.write(`more: distill jobs --after ${list.data.at(-1)!.id}\n`);
      return EXIT.ok;
    }),
  );
  registerDeleteCommand(jobs);
}

interface DeleteOptions extends ConnectionOptions {
  yes?: boolean;
}

function registerDeleteCommand(jobs: Command): void {
  withConnection(
    jobs
      .command('delete')
      .description('delete a finished job: its events, files and the models it registered (models other jobs name are kept)')
      .argument('<id>', 'job id (job_…)')
      .option('-y, --yes', 'delete without asking'),
  ).action(
    runAction(async (id: string, options: DeleteOptions) => {
      if (!options.yes) {
        const answer = await ask(`delete job ${id}, its events, artifacts and the models it registered (models other jobs name are kept)? [y/N] `);
        if (!/^y(es)?$/i.test(answer.trim())) {
          process.stderr.write(`not deleted: ${id} (answer y to delete, or pass --yes)\n`);
          return EXIT.failed;
        }
      }
      const deleted = await clientFrom(options).deleteJob(id);
      process.stdout.write(options.json ? `${JSON.stringify(deleted, null, 2)}\n` : formatDeleted(deleted));
      return EXIT.ok;
    }),
  );
}

export function formatDeleted(deleted: JobDeleted): string {
  const lines = [`deleted ${deleted.id}`];
  if (deleted.deleted_models.length > 0) lines.push(`deleted models: ${deleted.deleted_models.join(', ')}`);
  for (const kept of deleted.kept_models) lines.push(`kept model ${kept.id} (used by ${kept.used_by.join(', ')}); delete it with DELETE /v1/models/${kept.id}`);
  return `${lines.join('\n')}\n`;
}

/** Asks on stderr and reads one line from stdin; no input (a closed or empty stdin) is the empty answer. */
function ask(question: string): Promise<string> {
  process.stderr.write(question);
  const input = process.stdin;
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      input.off('data', onData);
      input.off('end', done);
      input.destroy();
      resolve(text.split('\n')[0] ?? '');
    };
    const onData = (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) done();
    };
    input.setEncoding('utf8');
    input.on('data', onData);
    input.on('end', done);
  });
}

export function formatJobsTable(jobs: Job[], now: Date): string {
  const header = ['ID', 'NAME', 'STATUS', 'PHASE', 'PROGRESS', 'STUDENT ACC', 'AGE'];
  const rows = jobs.map((job) => [
    job.id,
    (job.name ?? '').slice(0, 24),
    job.status,
    job.phase?.replace(/_/g, ' ') ?? '',
    `${Math.round(job.progress.percent)}%`,
    job.result ? `${(job.result.student.test_accuracy * 100).toFixed(1)}%` : '',
    formatAge(now.getTime() - Date.parse(job.created_at)),
  ]);
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  return `${table
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
