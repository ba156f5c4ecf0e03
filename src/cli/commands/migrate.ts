import type { Command } from 'commander';
import { ensureDatabase, migrate } from '../../db/migrate.js';
import { configOrExit } from '../lifecycle.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('create the database if missing and apply pending migrations (as `prisma migrate deploy` does)')
    .action(async () => {
      const config = configOrExit();
      await runMigrations(config.DATABASE_URL, (line) => console.log(line));
    });
}

export async function runMigrations(databaseUrl: string, say: (line: string) => void): Promise<void> {
  if (await ensureDatabase(databaseUrl)) say(`created database ${new URL(databaseUrl).pathname.slice(1)}`);
  const { applied, alreadyApplied } = await migrate(databaseUrl);
  for (const name of applied) say(`applied ${name}`);
  say(applied.length ? `${applied.length} migration(s) applied` : `database up to date (${alreadyApplied.length} migration(s))`);
}
