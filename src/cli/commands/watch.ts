/** `distill watch ID`: follows a job from its first event to its end; the exit code tells how it ended. */
import type { Command } from 'commander';
import { clientFrom, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';
import { followToEnd } from '../client/follow.js';

export function registerWatchCommand(program: Command): void {
  withConnection(
    program
      .command('watch')
      .description('follow a job: a progress bar per phase, then the report (exit 0 succeeded, 1 failed, 3 cancelled)')
      .argument('<id>', 'job id (job_…)'),
  ).action(runAction(async (id: string, options: ConnectionOptions) => followToEnd(clientFrom(options), id, options)));
}
