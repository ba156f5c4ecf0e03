/**
 * `distill models list | download ID --out DIR`. ID is a model (mdl_…) or a finished job (job_…, whose
 * student is taken unless --model says otherwise). DIR gets model.json + weights.bin, which
 * `tf.loadLayersModel` reads; the files are checked against the sha256 the server lists.
 */
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { ApiClient } from '../client/api-client.js';
import { clientFrom, EXIT, InputError, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';
import { formatBytes } from '../client/report-table.js';
import { TEACHER_KEYS } from '../../ml/spec.js';

const ROLES = ['student', ...TEACHER_KEYS, 'baseline'];
const FILES = ['model.json', 'weights.bin'] as const;

interface Model {
  id: string;
  name: string | null;
  source: string;
  source_job: string | null;
  role: string | null;
  input_shape: number[];
  output_shape: number[];
  parameters: number;
  bytes: number;
  sha256: string;
}

interface DownloadOptions extends ConnectionOptions {
  out: string;
  model: string;
}

interface Downloaded {
  path: string;
  bytes: number;
}

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('models: uploaded teachers and the models jobs trained');
  withConnection(models.command('list').description('list models, newest first').option('--job <id>', 'only the models this job trained')).action(
    runAction(async (options: ConnectionOptions & { job?: string }) => {
      const query = options.job ? `&source_job=${encodeURIComponent(options.job)}` : '';
      const list = await clientFrom(options).request<{ data: Model[] }>('GET', `/v1/models?limit=100${query}`);
      if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else if (list.data.length === 0) process.stdout.write('no models\n');
      else for (const m of list.data) process.stdout.write(`${m.id}  ${(m.role ?? m.source).padEnd(8)}  ${m.source_job ?? m.name ?? ''}  ${m.input_shape.join('×')} → ${m.output_shape.join('×')}  ${m.parameters.toLocaleString('en-US')} params  ${formatBytes(m.bytes)}\n`);
      return EXIT.ok;
    }),
  );
  withConnection(
    models
      .command('download')
      .description('download a model (mdl_…) or a finished job\'s student (job_…; --model teacher, teacher1… or baseline for the others) into DIR')
      .argument('<id>', 'model id (mdl_…) or job id (job_…)')
      .requiredOption('--out <dir>', 'directory to write model.json and weights.bin to (created if missing)')
      .option('--model <which>', `for a job: ${ROLES.join(', ')}`, 'student'),
  ).action(
    runAction(async (id: string, options: DownloadOptions) => {
      if (!ROLES.includes(options.model)) throw new InputError(`--model must be one of ${ROLES.join(', ')}`);
      const client = clientFrom(options);
      await mkdir(options.out, { recursive: true });
      const files = id.startsWith('mdl_') ? await downloadModel(client, id, options.out) : await downloadJobModel(client, id, options.model, options.out);
      if (!files) return EXIT.failed;
      if (options.json) process.stdout.write(`${JSON.stringify({ id, model: id.startsWith('mdl_') ? id : options.model, files }, null, 2)}\n`);
      else for (const f of files) process.stdout.write(`${f.path}  ${formatBytes(f.bytes)}\n`);
      return EXIT.ok;
    }),
  );
}

/** A stored model's two files; its sha256 covers model.json followed by weights.bin. */
async function downloadModel(client: ApiClient, id: string, out: string): Promise<Downloaded[]> {
  const model = await client.request<Model>('GET', `/v1/models/${encodeURIComponent(id)}`);
  const hash = createHash('sha256');
  const files: Downloaded[] = [];
  for (const file of FILES) {
    const path = join(out, file);
    await client.downloadTo(`/v1/models/${encodeURIComponent(id)}/${file}`, path, hash);
    files.push({ path, bytes: 0 });
  }
  const digest = hash.digest('hex');
  if (digest !== model.sha256) throw new Error(`${id}: sha256 ${digest} does not match the server's ${model.sha256}`);
  for (const f of files) f.bytes = (await stat(f.path)).size;
  return files;
}

/** A job's model from its artifacts (each file with its own sha256). */
async function downloadJobModel(client: ApiClient, jobId: string, role: string, out: string): Promise<Downloaded[] | undefined> {
  const artifacts = (await client.listArtifacts(jobId)).data.filter((a) => a.kind === role);
  if (artifacts.length === 0) {
    const job = await client.getJob(jobId);
    const why = job.status === 'succeeded' ? `it has no ${role} model (a baseline is trained only with distillation.baseline)` : `it is ${job.status}`;
    process.stderr.write(`error: job ${jobId} has nothing to download: ${why}\n`);
    return undefined;
  }
  const files: Downloaded[] = [];
  for (const artifact of artifacts) {
    const path = join(out, artifact.file);
    await client.download(artifact, path);
    files.push({ path, bytes: artifact.bytes });
  }
  return files;
}
