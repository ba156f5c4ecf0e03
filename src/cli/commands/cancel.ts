/**
 * `distill cancel ID`: asks the server to cancel a job. A queued job is cancelled at once; a running one
 * becomes `cancelling` until its worker stops between batches (`distill watch ID` shows the end).
 */
import type { Command } from 'commander';
import { clientFrom, EXIT, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';

export function registerCancelCommand(program: Command): void {
  withConnection(
    program.command('cancel').description('cancel a job (queued: at once; running: the worker stops between batches)').argument('<id>', 'job id (job_…)'),
  ).action(
    runAction(async (id: string, options: ConnectionOptions) => {
      const job = await clientFrom(options).cancelJob(id);
      process.stdout.write(options.json ? `${JSON.stringify(job, null, 2)}\n` : `${job.id} ${job.status}\n`);
      return EXIT.ok;
    }),
  );
}
