/**
 * `distill run SPEC.json [--out DIR] [--json] [--backend NAME]`: one job in this process, with no
 * server, queue or database. Progress goes to stderr, the report to stdout (a table, or JSON), the
 * models to DIR. The spec is the API's job body; fields the engine does not read (name, metadata,
 * priority, …) are ignored. Local files can stand in for uploads: `"source": "file:digits.csv"` (label
 * column `label`), `"source": "file:mnist/"` (IDX train/t10k files), `"model_id": "file:out/teacher"`, or an
 * ONNX teacher `"model_id": "file:model.onnx?layout=nchw&mean=0.1307&std=0.3081"` (the upload's fields).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  BACKENDS,
  type BackendChoice,
  DataError,
  type Dataset,
  datasetFromIdx,
  EngineError,
  type EngineEvent,
  type EngineSpec,
  type ExportFile,
  JobCancelledError,
  type ModelArtifacts,
  ModelError,
  type ModelReport,
  type OnnxInputDeclaration,
  type OnnxModelSource,
  parseCsv,
  pickEngineSpec,
  type Report,
  SpecError,
} from '../../ml/tfjs-free.js';
import { ONNX_DECLARATION_FIELDS, parseDeclaration } from '../../resources/onnx-models.js';

interface RunOptions {
  out?: string;
  json?: boolean;
  backend: string;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run one distillation job in this process (no server, queue or database) and print its report')
    .argument('<spec>', 'job spec JSON file: the API job body (dataset, teacher, student, distillation, seed)')
    .option('--out <dir>', 'write student/, teacher/, baseline/ (model.json + weights.bin) and report.json to DIR')
    .option('--json', 'print the report as JSON on stdout')
    .option('--backend <name>', `training backend: auto, ${BACKENDS.join(', ')}`, 'auto')
    .action(async (specPath: string, options: RunOptions) => {
      process.exitCode = await runCommand(specPath, options);
    });
}

/** Runs the job and returns the exit code: 0 done, 1 failed, 2 bad input, 130 interrupted. */
export async function runCommand(specPath: string, options: RunOptions): Promise<number> {
  if (options.backend !== 'auto' && !(BACKENDS as readonly string[]).includes(options.backend)) {
    process.stderr.write(`error: --backend must be auto or one of ${BACKENDS.join(', ')}\n`);
    return 2;
  }
  let spec: EngineSpec;
  try {
    spec = pickEngineSpec(JSON.parse(await readFile(specPath, 'utf8')));
  } catch (err) {
    process.stderr.write(`error: cannot read the spec ${specPath}: ${(err as Error).message}\n`);
    return 2;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort('interrupted');
  process.once('SIGINT', onSigint);
  const progress = new ProgressPrinter();
  try {
    // Loaded on use: registering this command must not load tfjs for every other command.
    const { runJob } = await import('../../ml/index.js');
    const outcome = await runJob(spec, {
      onEvent: (e) => progress.print(e),
      signal: controller.signal,
      backend: options.backend as BackendChoice,
      resolveDataset: readLocalDataset,
      resolveModel: readLocalModel,
    });
    progress.end();
    if (options.out) await writeOutputs(options.out, outcome.report, outcome.models, outcome.exports);
    process.stdout.write(options.json ? `${JSON.stringify(outcome.report, null, 2)}\n` : formatReport(outcome.report));
    if (options.out) process.stderr.write(`models and report written to ${options.out}\n`);
    return 0;
  } catch (err) {
    progress.end();
    if (err instanceof SpecError) {
      process.stderr.write(`error: invalid spec\n${err.problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n')}\n`);
      return 2;
    }
    if (err instanceof JobCancelledError) {
      process.stderr.write('cancelled\n');
      return 130;
    }
    if (err instanceof DataError || err instanceof ModelError) {
      process.stderr.write(`error (${err.code}): ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`error${err instanceof EngineError ? ` (${err.code})` : ''}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function readLocalDataset(id: string): Promise<Dataset> {
  if (!id.startsWith('file:'))
    throw new DataError(
      'unknown_source',
      `dataset "${id}" is an uploaded id; \`distill run\` reads local files: use "file:PATH" (a .csv file or a folder of IDX files)`,
    );
  const path = id.slice('file:'.length);
  if (!existsSync(path)) throw new DataError('unknown_source', `dataset file ${path} does not exist`);
  if (!statSync(path).isDirectory()) return parseCsv(await readFile(path), { name: path });
  const files = readdirSync(path);
  const find = (prefix: string, kind: string) => files.find((f) => f.startsWith(prefix) && f.includes(kind));
  const pair = async (prefix: string) => {
    const images = find(prefix, 'images');
    const labels = find(prefix, 'labels');
    return images && labels ? { images: await readFile(join(path, images)), labels: await readFile(join(path, labels)) } : undefined;
  };
  const train = await pair('train');
  if (!train) throw new DataError('unknown_source', `${path} holds no train-images/train-labels IDX files`);
  return datasetFromIdx(train, (await pair('t10k')) ?? (await pair('test')));
}

async function readLocalModel(id: string): Promise<ModelArtifacts | OnnxModelSource> {
  if (!id.startsWith('file:'))
    throw new ModelError(
      'model_not_found',
      `model "${id}" is a stored id; \`distill run\` reads local models: use "file:DIR" (model.json + weights.bin) or "file:MODEL.onnx"`,
    );
  const dir = id.slice('file:'.length);
  if (/\.onnx(\?|$)/.test(dir)) return readLocalOnnx(id, dir);
  try {
    return { modelJson: JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')), weights: await readFile(join(dir, 'weights.bin')) };
  } catch (err) {
    throw new ModelError('model_not_found', `cannot read the teacher model in ${dir}: ${(err as Error).message}`);
  }
}

async function writeOutputs(dir: string, report: Report, models: Partial<Record<string, ModelArtifacts>>, exports: ExportFile[] = []): Promise<void> {
  for (const [role, artifacts] of Object.entries(models)) {
    if (!artifacts) continue;
    await mkdir(join(dir, role), { recursive: true });
    await writeFile(join(dir, role, 'model.json'), JSON.stringify(artifacts.modelJson));
    await writeFile(join(dir, role, 'weights.bin'), artifacts.weights);
  }
  for (const f of exports) {
    await mkdir(join(dir, f.kind), { recursive: true });
    await writeFile(join(dir, f.kind, f.file), f.data);
  }
  await writeFile(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
}

/** One line per phase and epoch; metrics rewrite a single status line on a terminal. */
class ProgressPrinter {
  private readonly tty = process.stderr.isTTY === true;
  private statusShown = false;

  print(e: EngineEvent): void {
    if (e.type === 'metrics') {
      if (!this.tty) return;
      const terms = e.kd !== undefined ? ` ce ${e.ce!.toFixed(3)} kd ${e.kd.toFixed(4)}` : '';
      this.status(
        `  ${e.model} epoch ${e.epoch}/${e.progress.epochs} step ${e.step}/${e.progress.steps} loss ${e.loss.toFixed(4)}${terms} acc ${pct(e.accuracy)} ${e.samples_per_second} samples/s ${bar(e.progress.percent)}${eta(e.progress.eta_seconds)}`,
      );
      return;
    }
    if (e.type === 'phase') this.line(`▸ ${e.phase.replace(/_/g, ' ')} ${bar(e.progress.percent)}`);
    else if (e.type === 'epoch') {
      const val = e.val_accuracy === null ? '' : ` · val loss ${e.val_loss!.toFixed(4)} acc ${pct(e.val_accuracy)}`;
      this.line(
        `  ${e.model} epoch ${e.epoch}/${e.epochs} · loss ${e.train_loss.toFixed(4)} acc ${pct(e.train_accuracy)}${val} · ${e.elapsed_seconds.toFixed(1)}s ${bar(e.progress.percent)}${eta(e.progress.eta_seconds)}`,
      );
    } else if (e.type === 'log') this.line(`  ${e.level}: ${e.message}`);
  }

  end(): void {
    if (this.statusShown) process.stderr.write('\r\x1b[K');
    this.statusShown = false;
  }

  private status(text: string): void {
    process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    this.statusShown = true;
  }

  private line(text: string): void {
    this.end();
    process.stderr.write(`${text}\n`);
  }
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const eta = (s: number | null) => (s === null ? '' : ` eta ${s}s`);
function bar(percent: number): string {
  const filled = Math.round(percent / 5);
  return `[${'█'.repeat(filled)}${'·'.repeat(20 - filled)}] ${percent.toFixed(0)}%`;
}

export function formatReport(r: Report): string {
  const rows: Array<[string, ModelReport | undefined]> = [
    ['teacher', r.teacher],
    ['student', r.student],
    ['baseline', r.baseline],
  ];
  const header = ['model', 'test acc', 'test loss', 'params', 'bytes', 'ms/sample b=1', 'ms/sample b=256'];
  const table = [
    header,
    ...rows.flatMap(([name, m]) =>
      m
        ? [
            [
              name,
              pct(m.test_accuracy),
              m.test_loss.toFixed(4),
              String(m.parameters),
              String(m.bytes),
              m.latency_ms_per_sample.batch_1.toFixed(4),
              m.latency_ms_per_sample.batch_256.toFixed(4),
            ],
          ]
        : [],
    ),
  ];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  const gain =
    r.distillation_gain === null ? '' : ` · distillation gain ${r.distillation_gain >= 0 ? '+' : ''}${(r.distillation_gain * 100).toFixed(1)} points`;
  return [
    ...lines,
    '',
    `compression ${r.compression_ratio}× (size ${r.size_ratio}×) · speed-up ${r.speed_up.batch_1}× at batch 1, ${r.speed_up.batch_256}× at batch 256`,
    `teacher–student agreement ${pct(r.teacher_student_agreement)}${gain}`,
    `dataset ${r.dataset.source} (${r.dataset.train_samples} train / ${r.dataset.validation_samples} validation / ${r.dataset.test_samples} test) · soft targets ${r.soft_targets} · backend ${r.backend} · ${r.elapsed_seconds.toFixed(1)}s`,
    '',
  ].join('\n');
}

/**
 * `file:model.onnx?layout=nchw&mean=0.1307&std=0.3081`: an ONNX teacher, with what it expects of its input
 * in the fields an upload declares it with (layout, scale, mean, std, output; the same defaults).
 */
async function readLocalOnnx(id: string, location: string): Promise<OnnxModelSource> {
  const at = location.indexOf('?');
  const path = at < 0 ? location : location.slice(0, at);
  const fields = Object.fromEntries(new URLSearchParams(at < 0 ? '' : location.slice(at + 1)));
  const unknown = Object.keys(fields).filter((name) => !ONNX_DECLARATION_FIELDS.includes(name));
  if (unknown.length > 0)
    throw new ModelError(
      'model_unreadable',
      `teacher ${id}: unknown field ${unknown.join(', ')} (an ONNX model declares ${ONNX_DECLARATION_FIELDS.join(', ')})`,
    );
  let declared: OnnxInputDeclaration;
  try {
    declared = parseDeclaration(fields);
  } catch (err) {
    throw new ModelError('model_unreadable', `teacher ${id}: ${(err as Error).message}`);
  }
  try {
    return { format: 'onnx', bytes: new Uint8Array(await readFile(path)), declared };
  } catch (err) {
    throw new ModelError('model_not_found', `cannot read the teacher model ${path}: ${(err as Error).message}`);
  }
}
