import { Command } from 'commander';
import { registerCancelCommand } from './commands/cancel.js';
import { registerDatasetsCommand } from './commands/datasets.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerJobsCommand } from './commands/jobs.js';
import { registerKeysCommand } from './commands/keys.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerModelsCommand } from './commands/models.js';
import { registerRunCommand } from './commands/run.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSubmitCommand } from './commands/submit.js';
import { registerUpCommand } from './commands/up.js';
import { registerWatchCommand } from './commands/watch.js';
import { registerWorkerCommand } from './commands/worker.js';

const program = new Command('distill')
  .description('distill-server: knowledge-distillation jobs over HTTP, progress over WebSocket')
  .showHelpAfterError()
  .enablePositionalOptions();

registerUpCommand(program);
registerMigrateCommand(program);
registerServeCommand(program);
registerWorkerCommand(program);
registerKeysCommand(program);
registerRunCommand(program);
registerDoctorCommand(program);
// Clients of a running server, over HTTP and WebSocket.
registerSubmitCommand(program);
registerJobsCommand(program);
registerWatchCommand(program);
registerCancelCommand(program);
registerDatasetsCommand(program);
registerModelsCommand(program);

await program.parseAsync(process.argv);
