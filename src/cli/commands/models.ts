/**
 * `distill models list | download ID --out DIR [--format tfjs|onnx] [--quantize float16|uint8]`. ID is a
 * model (mdl_…) or a finished job (job_…, whose student is taken unless --model says otherwise). DIR gets
 * model.json + weights.bin, which `tf.loadLayersModel` reads, or model.onnx; the files are checked against
 * the sha256 the server lists. A job's ONNX or quantized files that it did not make at submit are exported
 * first (POST /v1/jobs/{id}/exports, no retraining).
 */
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Model, ModelList } from '../../contract/index.js';
import { MODEL_KINDS } from '../../contract/model-kinds.js';
import type { ApiClient } from '../client/api-client.js';
import { clientFrom, EXIT, InputError, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';
import { formatBytes } from '../client/report-table.js';
import { registerModelUpload } from './models-upload.js';

const ROLES: readonly string[] = MODEL_KINDS;
const FILES = ['model.json', 'weights.bin'] as const;
const FORMATS = ['tfjs', 'onnx'];
const QUANTIZATIONS = ['float16', 'uint8'];

interface DownloadOptions extends ConnectionOptions {
  out: string;
  model: string;
  format: string;
  quantize?: string;
}

interface Downloaded {
  path: string;
  bytes: number;
}

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('models: uploaded teachers and the models jobs trained');
  registerModelUpload(models);
  withConnection(models.command('list').description('list models, newest first').option('--job <id>', 'only the models this job trained')).action(
    runAction(async (options: ConnectionOptions & { job?: string }) => {
      const query = options.job ? `&source_job=${encodeURIComponent(options.job)}` : '';
      const list = await clientFrom(options).request<ModelList>('GET', `/v1/models?limit=100${query}`);
      if (options.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else if (list.data.length === 0) process.stdout.write('no models\n');
      else
        for (const m of list.data)
          process.stdout.write(
            `${m.id}  ${(m.role ?? m.source).padEnd(8)}  ${m.source_job ?? m.name ?? ''}  ${m.input_shape.join('×')} → ${m.output_shape.join('×')}  ${m.parameters.toLocaleString('en-US')} params  ${formatBytes(m.bytes)}\n`,
          );
      return EXIT.ok;
    }),
  );
  withConnection(
    models
      .command('download')
      .description("download a model (mdl_…) or a finished job's student (job_…; --model teacher, teacher1… or baseline for the others) into DIR")
      .argument('<id>', 'model id (mdl_…) or job id (job_…)')
      .requiredOption('--out <dir>', 'directory to write model.json and weights.bin to (created if missing)')
      .option('--model <which>', `for a job: ${ROLES.join(', ')}`, 'student')
      .option('--format <format>', 'tfjs (model.json + weights.bin) or onnx (model.onnx)', 'tfjs')
      .option('--quantize <weights>', "float16 or uint8 weights (a job's student, or ONNX of a model)"),
  ).action(
    runAction(async (id: string, options: DownloadOptions) => {
      if (!ROLES.includes(options.model)) throw new InputError(`--model must be one of ${ROLES.join(', ')}`);
      if (!FORMATS.includes(options.format)) throw new InputError(`--format must be one of ${FORMATS.join(', ')}`);
      if (options.quantize !== undefined && !QUANTIZATIONS.includes(options.quantize))
        throw new InputError(`--quantize must be one of ${QUANTIZATIONS.join(', ')}`);
      if (options.quantize && options.model !== 'student') throw new InputError("--quantize applies to a job's student only");
      if (options.quantize && id.startsWith('mdl_') && options.format !== 'onnx')
        throw new InputError('a stored model is quantized on download only as ONNX: add --format onnx');
      const client = clientFrom(options);
      await mkdir(options.out, { recursive: true });
      const files = id.startsWith('mdl_')
        ? options.format === 'onnx'
          ? await downloadModelOnnx(client, id, options.quantize, options.out)
          : await downloadModel(client, id, options.out)
        : await downloadJobModel(client, id, options, options.out);
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
  // An ONNX model is its one .onnx file, whose sha256 the server lists.
  for (const file of model.format === 'onnx' ? ['model.onnx'] : FILES) {
    const path = join(out, file);
    await client.downloadTo(`/v1/models/${encodeURIComponent(id)}/${file}`, path, hash);
    files.push({ path, bytes: 0 });
  }
  const digest = hash.digest('hex');
  if (digest !== model.sha256) throw new Error(`${id}: sha256 ${digest} does not match the server's ${model.sha256}`);
  for (const f of files) f.bytes = (await stat(f.path)).size;
  return files;
}

/** A stored model exported to ONNX by the server (checked there against tfjs before it is sent). */
async function downloadModelOnnx(client: ApiClient, id: string, quantize: string | undefined, out: string): Promise<Downloaded[]> {
  const path = join(out, 'model.onnx');
  await client.downloadTo(`/v1/models/${encodeURIComponent(id)}/model.onnx${quantize ? `?quantize=${quantize}` : ''}`, path, createHash('sha256'));
  return [{ path, bytes: (await stat(path)).size }];
}

/** A job's model from its artifacts (each file with its own sha256), exported first when the job lacks it. */
async function downloadJobModel(client: ApiClient, jobId: string, options: DownloadOptions, out: string): Promise<Downloaded[] | undefined> {
  const role = options.model;
  const kind = options.quantize ? `${role}-${options.quantize}` : role;
  const wanted = options.format === 'onnx' ? ['model.onnx'] : [...FILES];
  const pick = (list: Awaited<ReturnType<ApiClient['listArtifacts']>>) => list.data.filter((a) => a.kind === kind && wanted.includes(a.file));
  let artifacts = pick(await client.listArtifacts(jobId));
  const state = artifacts.length === 0 ? await client.getJob(jobId) : undefined;
  if (state?.status === 'succeeded' && (options.format === 'onnx' || options.quantize)) {
    artifacts = pick(
      await client.request('POST', `/v1/jobs/${encodeURIComponent(jobId)}/exports`, {
        formats: [options.format],
        ...(options.quantize ? { quantize: [options.quantize] } : {}),
      }),
    );
  }
  if (artifacts.length === 0) {
    const job = state ?? (await client.getJob(jobId));
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
