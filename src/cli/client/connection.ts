/**
 * What every client command shares: where the server is and which key to use (flags first, then
 * DISTILL_URL / DISTILL_API_KEY), one way to report errors, and the exit codes scripts can branch on.
 */
import { Option, type Command } from 'commander';
import { ApiClient, ApiError, ConnectionError } from './api-client.js';

/** Where `distill up` listens by default (HOST and PORT). */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Exit codes of the client commands. */
export const EXIT = {
  ok: 0,
  /** The job failed, or talking to the server failed (unreachable, 5xx, 404, …). */
  failed: 1,
  /** The server refused what we sent (400: invalid spec), or the input file could not be read. */
  invalid: 2,
  /** The job was cancelled. */
  cancelled: 3,
} as const;

export interface ConnectionOptions {
  url?: string;
  key?: string;
  json?: boolean;
}

/** Adds --url, --key and --json to a client command. */
export function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', `API base URL (default: DISTILL_URL, else ${DEFAULT_URL})`))
    .addOption(new Option('--key <key>', 'API key, sent as a Bearer token (default: DISTILL_API_KEY)'))
    .option('--json', 'print machine-readable JSON on stdout');
}

export function clientFrom(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const key = options.key ?? env.DISTILL_API_KEY;
  return new ApiClient(options.url ?? env.DISTILL_URL ?? DEFAULT_URL, key || undefined);
}

/** A user mistake found before any request is sent (an unreadable spec file, a bad flag). */
export class InputError extends Error {
  override name = 'InputError';
}

/**
 * Runs a command's body and sets the exit code from what it returns or throws; errors become one
 * clear message on stderr (the problem's detail and its field errors), never a stack trace.
 */
export function runAction<A extends unknown[]>(body: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = await body(...args);
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

export function reportError(err: unknown): number {
  if (err instanceof ApiError) {
    const lines = [`error: the server answered ${err.status} (${err.code}): ${err.detail}`];
    for (const e of err.errors) lines.push(`  ${e.field}: ${e.message}`);
    if (err.status === 401) lines.push('  (set an API key with --key or DISTILL_API_KEY)');
    process.stderr.write(`${lines.join('\n')}\n`);
    return err.status === 400 ? EXIT.invalid : EXIT.failed;
  }
  if (err instanceof InputError) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.invalid;
  }
  if (err instanceof ConnectionError) {
    process.stderr.write(`error: ${err.message} (is the server running? set --url or DISTILL_URL)\n`);
    return EXIT.failed;
  }
  process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
  return EXIT.failed;
}

/** The exit code that tells a script how the job ended. */
export function exitCodeFor(status: string): number {
  if (status === 'succeeded') return EXIT.ok;
  if (status === 'cancelled') return EXIT.cancelled;
  return EXIT.failed;
}
