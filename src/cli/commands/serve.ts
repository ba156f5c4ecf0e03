import type { Command } from 'commander';
import { startServer } from '../../api/server.js';
import { runService } from '../lifecycle.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP and WebSocket API (HOST, PORT; migrations must be applied)')
    .action(() => runService('api', startServer));
}
