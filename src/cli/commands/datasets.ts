/**
 * `distill datasets list | upload FILES… | delete ID`: the datasets jobs train on. An upload is a CSV
 * (label column `label` unless --label-column says otherwise) or IDX files (train images and labels,
 * optionally the test pair, gzipped or not), checked by the server's engine before it answers.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { BUILTIN } from '../../contract/builtin-datasets.js';
import type { Dataset as WireDataset } from '../../contract/index.js';
import { ApiError } from '../client/api-client.js';
import { clientFrom, EXIT, InputError, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';
import { formatBytes } from '../client/report-table.js';

/** What older servers (no datasets API) still offer. */
const BUILTIN_DATASETS: Dataset[] = [
  { id: BUILTIN.mnist, name: '10,000 real handwritten digits (28×28×1, 10 classes)', status: 'ready' },
  { id: BUILTIN.synthetic, name: 'generated clusters: dataset.options set classes, features or shape, and samples', status: 'ready' },
];
const IDX_ROLES = ['train_images', 'train_labels', 'test_images', 'test_labels'] as const;

/** What the CLI reads of a dataset: all of it from a server, the id and a few facts for a built-in one known here. */
type Dataset = Pick<WireDataset, 'id'> & Partial<Omit<WireDataset, 'id' | 'error'>> & { error?: { message?: string } | string | null };

interface UploadOptions extends ConnectionOptions {
  name?: string;
  labelColumn?: string;
}

export function registerDatasetsCommand(program: Command): void {
  const datasets = program.command('datasets').description('datasets jobs can train on: list, upload, delete');
  withConnection(datasets.command('list').description('list built-in and uploaded datasets')).action(
    runAction(async (options: ConnectionOptions) => {
      const list = await listDatasets(options);
      if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else for (const d of list.data) process.stdout.write(`${describe(d)}\n`);
      if (!options.json && !list.uploads_supported) process.stdout.write('(this server takes no dataset uploads)\n');
      return EXIT.ok;
    }),
  );
  withConnection(
    datasets
      .command('upload')
      .description('upload a CSV file, or IDX files (train-images, train-labels, optionally t10k/test pair; .gz or not); prints the dataset id')
      .argument('<files...>', "a .csv file, or IDX files named like MNIST's (or ROLE=PATH with ROLE train_images, train_labels, test_images, test_labels)")
      .option('--name <name>', 'a name to show in lists')
      .option('--label-column <column>', 'CSV: the column holding the labels (default: label)'),
  ).action(
    runAction(async (paths: string[], options: UploadOptions) => {
      const files = await Promise.all(
        paths.map(async (arg) => {
          const { field, path } = fieldOf(arg, paths.length);
          try {
            return { field, filename: basename(path), bytes: await readFile(path) };
          } catch (err) {
            throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
          }
        }),
      );
      const fields = { ...(options.name ? { name: options.name } : {}), ...(options.labelColumn ? { label_column: options.labelColumn } : {}) };
      const dataset = await clientFrom(options).upload<Dataset>('/v1/datasets', fields, files);
      process.stdout.write(options.json ? `${JSON.stringify(dataset, null, 2)}\n` : `${dataset.id}\n`);
      if (!options.json) process.stderr.write(`${describe(dataset)}\nuse it in a job: "dataset": { "source": "${dataset.id}" }\n`);
      return dataset.status === 'failed' ? EXIT.failed : EXIT.ok;
    }),
  );
  withConnection(
    datasets.command('delete').description('delete an uploaded dataset (refused while a queued or running job uses it)').argument('<id>', 'dataset id (ds_…)'),
  ).action(
    runAction(async (id: string, options: ConnectionOptions) => {
      const deleted = await clientFrom(options).request<{ id: string }>('DELETE', `/v1/datasets/${encodeURIComponent(id)}`);
      process.stdout.write(options.json ? `${JSON.stringify(deleted)}\n` : `${deleted.id} deleted\n`);
      return EXIT.ok;
    }),
  );
}

/** The form field a file goes in: ROLE=PATH as given, a CSV by its extension, IDX files by MNIST's naming. */
function fieldOf(arg: string, count: number): { field: string; path: string } {
  const explicit = /^(csv|train_images|train_labels|test_images|test_labels)=(.+)$/.exec(arg);
  if (explicit) return { field: explicit[1]!, path: explicit[2]! };
  const name = basename(arg).toLowerCase();
  if (/\.csv(\.gz)?$/.test(name)) {
    if (count > 1) throw new InputError('a CSV dataset is one file');
    return { field: 'csv', path: arg };
  }
  const split = /t10k|test/.test(name) ? 'test' : /train/.test(name) ? 'train' : undefined;
  const kind = /images|idx3/.test(name) ? 'images' : /labels|idx1/.test(name) ? 'labels' : undefined;
  const role = split && kind ? `${split}_${kind}` : undefined;
  if (!role || !(IDX_ROLES as readonly string[]).includes(role)) {
    throw new InputError(`cannot tell what ${arg} is: name a .csv file, IDX files like train-images-idx3-ubyte.gz, or say ROLE=PATH (${IDX_ROLES.join(', ')})`);
  }
  return { field: role, path: arg };
}

function describe(d: Dataset): string {
  const shape = d.input_shape ? ` · ${d.input_shape.join('×')}` : '';
  const classes = d.num_classes ? ` · ${d.num_classes} classes` : '';
  const samples = d.num_train ? ` · ${d.num_train} train${d.num_test ? ` / ${d.num_test} test` : ''}` : '';
  const size = d.bytes ? ` · ${formatBytes(d.bytes)}` : '';
  const error = d.error ? ` · ${typeof d.error === 'string' ? d.error : d.error.message}` : '';
  return `${d.id.padEnd(30)}  ${(d.status ?? '').padEnd(10)}  ${d.name ?? ''}${shape}${classes}${samples}${size}${error}`;
}

/** The server's list (built-ins first), or the built-ins alone from a server without the datasets API. */
async function listDatasets(options: ConnectionOptions): Promise<{ data: Dataset[]; uploads_supported: boolean }> {
  try {
    const data: Dataset[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await clientFrom(options).request<{ data: Dataset[]; has_more: boolean }>(
        'GET',
        `/v1/datasets?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`,
      );
      data.push(...page.data);
      if (!page.has_more || page.data.length === 0) return { data, uploads_supported: true };
      after = page.data.at(-1)!.id;
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'route_not_found') return { data: BUILTIN_DATASETS, uploads_supported: false };
    throw err;
  }
}
