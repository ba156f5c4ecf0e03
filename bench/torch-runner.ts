// Finds a python3 with torch and runs bench/torch_reference.py with the settings from the tfjs note:
// torch.set_num_threads(1) (inside the script) and OPENBLAS_CORETYPE unset for this command only.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MicroOptions } from './micro.js';

export interface TorchMeasurement {
  pair: string;
  batch: number;
  loop: string;
  samplesPerSec: number;
  gflops: number;
}

const script = fileURLToPath(new URL('./torch_reference.py', import.meta.url));

/** `python3` if it has torch, else Debian's /usr/bin/python3 (pyenv shims often shadow it). */
export function findTorchPython(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return python;
  }
  return undefined;
}

export function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  return env;
}

export async function runTorchReference(o: MicroOptions): Promise<TorchMeasurement[]> {
  const python = findTorchPython();
  if (!python) {
    process.stderr.write('PyTorch reference skipped: no python3 with torch\n');
    return [];
  }
  process.stderr.write(`PyTorch reference (${python})…\n`);
  const r = spawnSync(
    python,
    [script, '--pairs', o.pairs.join(','), '--batches', o.batches.join(','), '--loops', o.loops.join(','), '--seconds', String(o.seconds)],
    { env: torchEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`torch_reference.py exited with ${r.status}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('TORCH '))
    .map((l) => JSON.parse(l.slice(6)) as TorchMeasurement);
}
