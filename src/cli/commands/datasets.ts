/**
 * `distill datasets list`: the datasets a job can name. The built-in ones are always there; uploaded
 * ones come from GET /v1/datasets on servers that have it (older servers answer 404, and the built-in
 * ones are all there is).
 */
import type { Command } from 'commander';
import { ApiError } from '../client/api-client.js';
import { clientFrom, EXIT, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';

export const BUILTIN_DATASETS = [
  { id: 'builtin:mnist', description: '10,000 real handwritten digits, 28×28×1, 10 classes' },
  { id: 'builtin:synthetic', description: 'generated clusters; dataset.options sets classes, features or shape, samples, difficulty' },
];

interface UploadedDataset {
  id: string;
  name?: string;
  [key: string]: unknown;
}

export function registerDatasetsCommand(program: Command): void {
  const datasets = program.command('datasets').description('datasets jobs can train on');
  withConnection(datasets.command('list').description('list built-in and uploaded datasets')).action(
    runAction(async (options: ConnectionOptions) => {
      const uploaded = await listUploaded(options);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ builtin: BUILTIN_DATASETS, uploaded: uploaded ?? [], uploads_supported: uploaded !== undefined }, null, 2)}\n`);
        return EXIT.ok;
      }
      for (const d of BUILTIN_DATASETS) process.stdout.write(`${d.id.padEnd(20)}  ${d.description}\n`);
      for (const d of uploaded ?? []) process.stdout.write(`${d.id.padEnd(20)}  ${d.name ?? ''}\n`);
      if (uploaded === undefined) process.stdout.write('(this server has no dataset uploads yet)\n');
      return EXIT.ok;
    }),
  );
}

/** Uploaded datasets, or undefined when the server has no datasets API. */
async function listUploaded(options: ConnectionOptions): Promise<UploadedDataset[] | undefined> {
  try {
    return (await clientFrom(options).request<{ data: UploadedDataset[] }>('GET', '/v1/datasets?limit=100')).data;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'route_not_found') return undefined;
    throw err;
  }
}
