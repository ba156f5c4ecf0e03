import { PrismaPg } from '@prisma/adapter-pg';
import { Prisma, PrismaClient } from './generated/client.js';

export { Prisma, PrismaClient };
export type Db = PrismaClient;
/** A client or an open transaction: repository functions accept either. */
export type DbClient = PrismaClient | Prisma.TransactionClient;

/** The one way this codebase opens a database connection pool. */
export function createDb(databaseUrl: string, poolSize = 10): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 3000 });
  return new PrismaClient({ adapter });
}

/**
 * Errors worth retrying: the database is unreachable or restarting, the pool had no free connection in
 * time, or a transaction lost a race.
 * Named in one place so every writer retries the same things.
 */
export function isRetriableDbError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  if (code && ['P1001', 'P1002', 'P1017', 'P2024', 'P2028', 'P2034'].includes(code)) return true;
  const message = err instanceof Error ? err.message : String(err);
  return /ECONNREFUSED|ECONNRESET|Connection terminated|terminating connection|the database system is (starting up|shutting down)|Can't reach database|timeout exceeded when trying to connect/i.test(
    message,
  );
}
