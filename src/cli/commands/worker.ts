import type { Command } from 'commander';
import { runService } from '../lifecycle.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: takes jobs from the queue and trains each in a sandboxed child process')
    .action(() => runService('worker', async (config, log) => (await import('../../worker/worker.js')).startWorker(config, log)));
}
