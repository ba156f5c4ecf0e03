import { type ChildProcess, spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createLogger } from '../../log.js';
import { configOrExit } from '../lifecycle.js';
import { runMigrations } from './migrate.js';

const RESTART_DELAY_MS = 1000;

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('migrate, then run the API and WORKERS worker processes; Ctrl-C or SIGTERM stops them all')
    .option('-w, --workers <n>', 'worker processes (default: WORKERS)', (v) => Number.parseInt(v, 10))
    .action(async (options: { workers?: number }) => {
      const config = configOrExit();
      const log = createLogger(config, { service: 'up' });
      const workers = options.workers ?? config.WORKERS;
      if (!Number.isInteger(workers) || workers < 0) {
        process.stderr.write('distill up: --workers must be a non-negative integer\n');
        process.exit(2);
      }
      try {
        await runMigrations(config.DATABASE_URL, (line) => log.info(line));
      } catch (err) {
        log.fatal({ err }, 'migrations failed: is Postgres running at DATABASE_URL?');
        process.exit(1);
      }
      // With ADMIN_API_KEY the operator chose the first key; the API stores it when it starts.
      if (!config.ADMIN_API_KEY) await printFirstKey(config.DATABASE_URL);
      supervise(['serve', ...Array.from({ length: workers }, () => 'worker')], log);
    });
}

/** Runs each command as a child process of this CLI, restarts one that dies, and stops all on a signal. */
function supervise(commands: string[], log: ReturnType<typeof createLogger>): void {
  const running = new Map<number, ChildProcess>();
  let stopping = false;

  const launch = (slot: number) => {
    const command = commands[slot] as string;
    // The same entry script and loader flags (tsx in development) as this process.
    // Own process group, so a terminal's Ctrl-C reaches only this supervisor, which stops the children in
    // order; the IPC channel lets a child notice that the supervisor died and stop itself.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string, command], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    running.set(slot, child);
    log.info({ command, pid: child.pid }, 'started');
    child.on('exit', (code, signal) => {
      running.delete(slot);
      if (stopping) {
        if (running.size === 0) process.exit(0);
        return;
      }
      log.error({ command, code, signal }, `${command} exited unexpectedly: restarting`);
      setTimeout(() => !stopping && launch(slot), RESTART_DELAY_MS);
    });
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, children: running.size }, 'stopping');
    if (running.size === 0) process.exit(0);
    for (const child of running.values()) child.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  commands.forEach((_, slot) => launch(slot));
}

/** A fresh installation has no key to call it with: make an admin key once, and show it once. */
async function printFirstKey(databaseUrl: string): Promise<void> {
  const [{ createDb }, { createApiKey, countApiKeys }] = await Promise.all([import('../../db/client.js'), import('../../auth/api-keys.js')]);
  const db = createDb(databaseUrl, 1);
  try {
    if ((await countApiKeys(db)) > 0) return;
    const created = await createApiKey(db, 'default', true);
    process.stdout.write(
      `\nFirst start: created an admin API key for tenant "default" (shown only now, store it):\n\n  ${created.key}\n\n` +
        'Send it as "Authorization: Bearer <key>". More keys: `distill keys create --tenant NAME` (see README, API keys).\n\n',
    );
  } finally {
    await db.$disconnect();
  }
}
