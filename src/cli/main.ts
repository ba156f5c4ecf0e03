import { Command } from 'commander';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerServeCommand } from './commands/serve.js';
import { registerUpCommand } from './commands/up.js';
import { registerWorkerCommand } from './commands/worker.js';

const program = new Command('distill')
  .description('distill-server: knowledge-distillation jobs over HTTP, progress over WebSocket')
  .showHelpAfterError()
  .enablePositionalOptions();

registerUpCommand(program);
registerMigrateCommand(program);
registerServeCommand(program);
registerWorkerCommand(program);

await program.parseAsync(process.argv);
