import type { Command } from 'commander';
import { runService } from '../lifecycle.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP and WebSocket API (HOST, PORT; migrations must be applied)')
    .action(() => runService('api', async (config, log) => (await import('../../api/server.js')).startServer(config, log)));
}
