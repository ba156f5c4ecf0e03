/**
 * `distill doctor [--json]`: which training backend this machine gives (TRAINING_BACKEND, `auto` by
 * default), why each better one was passed over, and the facts behind it: native packages, GPUs, the
 * CUDA/cuDNN libraries libtensorflow needs, wasm SIMD and threads, the native BLAS path. It loads the
 * backend the way a training child does. Exits 1 when TRAINING_BACKEND names a backend that cannot load.
 */
import type { Command } from 'commander';
import type { Diagnosis, LibraryFact } from '../../ml/tfjs-free.js';
import { configOrExit } from '../lifecycle.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('say which training backend this machine gives, why better ones were skipped, and what it found (GPUs, CUDA, wasm)')
    .option('--json', 'print the findings as JSON')
    .action(async (options: { json?: boolean }) => {
      const config = configOrExit();
      const { diagnose } = await import('../../ml/index.js');
      const found = await diagnose(config.TRAINING_BACKEND);
      // Exits once the answer is written: libtensorflow's threads may hold the event loop open.
      process.stdout.write(options.json ? `${JSON.stringify(found, null, 2)}\n` : formatDiagnosis(found), () => process.exit(found.error ? 1 : 0));
    });
}

export function formatDiagnosis(d: Diagnosis): string {
  const lines: string[] = [];
  const f = d.facts;
  lines.push(
    d.backend
      ? `training backend: ${d.backend} (TRAINING_BACKEND=${d.choice})`
      : `training backend: none — TRAINING_BACKEND=${d.choice} cannot load: ${d.candidates.find((c) => c.status === 'failed')?.reason ?? d.error}`,
    '',
  );
  for (const c of d.candidates) lines.push(row(c.backend, c.status + (c.reason ? `: ${c.reason}` : '')));
  lines.push('', 'native packages');
  for (const p of Object.values(f.packages)) {
    const detail = p.installed
      ? [`installed ${p.version ?? ''}`.trim(), p.libtensorflow ? `libtensorflow ${p.libtensorflow}` : '', p.note ?? ''].filter(Boolean).join('; ')
      : 'not installed';
    lines.push(row(`  ${p.package}`, detail));
  }
  const lib =
    d.loaded?.tfBackend === 'tensorflow'
      ? 'loaded'
      : f.packages['tensorflow-gpu'].installed || f.packages.tensorflow.installed
        ? 'not loaded (see above)'
        : 'not loaded: no native package';
  lines.push(row('  libtensorflow', lib));
  lines.push('', `GPU (${f.gpu.usable ? 'usable' : `not usable: ${f.gpu.why}`})`);
  if (f.gpu.gpus.length === 0)
    lines.push(row('  GPUs', f.gpu.smiError ?? (f.gpu.source === 'none' ? 'none visible (no nvidia-smi, no /dev/nvidia*)' : 'none listed')));
  for (const g of f.gpu.gpus) {
    lines.push(
      row(`  GPU ${g.index}`, [g.name, g.memoryMiB !== null ? `${g.memoryMiB} MiB` : '', g.driver ? `driver ${g.driver}` : ''].filter(Boolean).join(', ')),
    );
  }
  if (f.gpu.driverNote) lines.push(row('  driver', f.gpu.driverNote));
  lines.push(row(`  ${f.gpu.driverLibrary.soname}`, libraryLine(f.gpu.driverLibrary)));
  lines.push('', 'CUDA 11 / cuDNN 8 libraries (libtensorflow 2.9.1 opens these)');
  for (const l of f.gpu.cudaLibraries) lines.push(row(`  ${l.soname}`, libraryLine(l)));
  const w = f.wasm;
  lines.push(
    '',
    row('wasm SIMD', w.simd ? 'yes' : 'no (the slow scalar build runs)'),
    row('wasm threads', `${w.threads} (threaded SIMD build ${w.threadedBuild ? 'available' : 'not available'}; ${w.cores} cores)`),
    row('native BLAS', f.blas.built ? `built: ${f.blas.path}` : f.blas.detail),
    '',
  );
  return lines.join('\n');
}

function row(label: string, value: string): string {
  return `${label.padEnd(28)} ${value}`;
}

function libraryLine(l: LibraryFact): string {
  const others = l.others?.length ? ` (present: ${l.others.join(', ')})` : '';
  return l.found ? `found ${l.path}${l.version ? `, version ${l.version}` : ''}${others}` : `not found${others}`;
}
