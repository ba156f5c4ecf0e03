/**
 * `distill submit SPEC.json [--follow] [--json]`: sends a job body (the API's POST /v1/jobs body, as in
 * examples/) and prints the new job's id; with --follow, watches it to the end like `distill watch`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { clientFrom, EXIT, InputError, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';
import { followToEnd } from '../client/follow.js';

interface SubmitOptions extends ConnectionOptions {
  follow?: boolean;
  name?: string;
  idempotencyKey?: string;
}

export function registerSubmitCommand(program: Command): void {
  withConnection(
    program
      .command('submit')
      .description('submit a job to a distill server and print its id; --follow shows its progress and ends with the report')
      .argument('<spec>', 'job body JSON file (see examples/), or - for standard input')
      .option('-f, --follow', 'follow the job to its end: progress per phase, then the report; the exit code tells how it ended')
      .option('--name <name>', "job name (overrides the spec's)")
      .option('--idempotency-key <key>', 'retrying with the same key returns the same job instead of a second one'),
  ).action(
    runAction(async (specPath: string, options: SubmitOptions) => {
      const body = await readSpec(specPath);
      if (options.name) body.name = options.name;
      const client = clientFrom(options);
      const job = await client.submitJob(body, options.idempotencyKey);
      if (!options.follow) {
        process.stdout.write(options.json ? `${JSON.stringify(job, null, 2)}\n` : `${job.id}\n`);
        return EXIT.ok;
      }
      if (!options.json) process.stderr.write(`${job.id} submitted${job.name ? ` (${job.name})` : ''}\n`);
      return followToEnd(client, job.id, options);
    }),
  );
}

async function readSpec(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError(`${path} must hold a JSON object (a job body)`);
  return body as Record<string, unknown>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
