/**
 * `distill models download ID --out DIR`: saves a finished job's model (the distilled student unless
 * --model says otherwise) as DIR/model.json + DIR/weights.bin, which `tf.loadLayersModel` reads. Files
 * come from the job's artifact routes and are checked against the sha256 the server lists.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { clientFrom, EXIT, InputError, runAction, withConnection, type ConnectionOptions } from '../client/connection.js';
import { formatBytes } from '../client/report-table.js';

const MODELS = ['student', 'teacher', 'baseline'] as const;

interface DownloadOptions extends ConnectionOptions {
  out: string;
  model: string;
}

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('models trained by jobs');
  withConnection(
    models
      .command('download')
      .description('download a finished job\'s student (or --model teacher|baseline) into DIR')
      .argument('<id>', 'job id (job_…)')
      .requiredOption('--out <dir>', 'directory to write model.json and weights.bin to (created if missing)')
      .option('--model <which>', `which model: ${MODELS.join(', ')}`, 'student'),
  ).action(
    runAction(async (id: string, options: DownloadOptions) => {
      if (!(MODELS as readonly string[]).includes(options.model)) throw new InputError(`--model must be one of ${MODELS.join(', ')}`);
      const client = clientFrom(options);
      const artifacts = (await client.listArtifacts(id)).data.filter((a) => a.kind === options.model);
      if (artifacts.length === 0) {
        const job = await client.getJob(id);
        const why = job.status === 'succeeded' ? `it has no ${options.model} model (a baseline is trained only with distillation.baseline)` : `it is ${job.status}`;
        process.stderr.write(`error: job ${id} has nothing to download: ${why}\n`);
        return EXIT.failed;
      }
      await mkdir(options.out, { recursive: true });
      const files = [];
      for (const artifact of artifacts) {
        const path = join(options.out, artifact.file);
        await client.download(artifact, path);
        files.push({ path, bytes: artifact.bytes, sha256: artifact.sha256 });
      }
      if (options.json) process.stdout.write(`${JSON.stringify({ job_id: id, model: options.model, files }, null, 2)}\n`);
      else for (const f of files) process.stdout.write(`${f.path}  ${formatBytes(f.bytes)}\n`);
      return EXIT.ok;
    }),
  );
}
