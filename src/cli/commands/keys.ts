import type { Command } from 'commander';
import { configOrExit } from '../lifecycle.js';

/** API keys are managed against the database directly: whoever runs these commands runs the server. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('manage API keys (stored as hashes; a key is shown once)');

  keys
    .command('create')
    .description('create an API key for a tenant (the tenant is created on first use)')
    .requiredOption('--tenant <name>', 'tenant the key acts for')
    .option('--admin', "the key may read every tenant's resources", false)
    .option('--json', 'print JSON')
    .action(async (options: { tenant: string; admin: boolean; json?: boolean }) => {
      if (!/^[a-z0-9][a-z0-9_-]{0,62}$/i.test(options.tenant)) fail('--tenant must be 1-63 letters, digits, _ or -');
      await withDb(async (db, { createApiKey }) => {
        const created = await createApiKey(db, options.tenant, options.admin);
        if (options.json) console.log(JSON.stringify(created));
        else {
          console.log(`created ${created.admin ? 'admin ' : ''}key ${created.id} for tenant ${created.tenantName}`);
          console.log(`\n  ${created.key}\n\nIt is shown only now: store it. Use it as "Authorization: Bearer <key>".`);
        }
      });
    });

  keys
    .command('list')
    .description('list API keys (prefixes only)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withDb(async (db, { listApiKeys }) => {
        const rows = (await listApiKeys(db)).map((k) => ({
          id: k.id,
          tenant: k.tenant.name,
          prefix: k.prefix,
          admin: k.admin,
          created_at: k.createdAt.toISOString(),
          revoked_at: k.revokedAt?.toISOString() ?? null,
        }));
        if (options.json) console.log(JSON.stringify(rows));
        else console.table(rows);
      });
    });

  keys
    .command('revoke <id>')
    .description('revoke an API key at once: its requests are refused now, its open WebSockets close within seconds, its unused tickets are void')
    .action(async (id: string) => {
      await withDb(async (db, { revokeApiKey }) => {
        if (!(await revokeApiKey(db, id))) fail(`no active key ${id}`);
        // Every API process re-checks the keys of its open sockets every few seconds (no connection to them is needed here).
        console.log(
          `revoked ${id}: requests with it are refused now; its open WebSockets close within a few seconds and its unused WebSocket tickets no longer work`,
        );
      });
    });
}

type Db = import('../../db/client.js').Db;

/** The database client (and Prisma's engine) load only when a keys command runs. */
async function withDb(fn: (db: Db, keys: typeof import('../../auth/api-keys.js')) => Promise<void>): Promise<void> {
  const [{ createDb }, keys] = await Promise.all([import('../../db/client.js'), import('../../auth/api-keys.js')]);
  const db = createDb(configOrExit().DATABASE_URL, 1);
  try {
    await fn(db, keys);
  } finally {
    await db.$disconnect();
  }
}

function fail(message: string): never {
  process.stderr.write(`distill keys: ${message}\n`);
  process.exit(1);
}
