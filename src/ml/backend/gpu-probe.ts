/**
 * What a GPU backend needs from the machine, found without loading any of it: the GPUs the driver
 * shows, the driver's own library, and the CUDA 11 / cuDNN 8 libraries libtensorflow 2.9.1 opens.
 * No tfjs import here: the worker process asks these questions without loading a backend.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';

/** The sonames libtensorflow 2.9.1 (what @tensorflow/tfjs-node-gpu 4.22 downloads) opens for its GPU device. */
export const CUDA_LIBRARIES = [
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
] as const;
/** The driver's user-space library: present only where the NVIDIA driver (or the Container Toolkit) put it. */
export const DRIVER_LIBRARY = 'libcuda.so.1';
/** CUDA 11 minor-version compatibility starts at this driver (NVIDIA's CUDA compatibility guide). */
export const MIN_DRIVER = '450.80.02';
/** CUDA 11.8, the GPU image's runtime, with every feature (PTX JIT included); older drivers need NVIDIA_DISABLE_REQUIRE=1. */
export const FULL_DRIVER = '520.61.05';

export interface LibraryFact {
  soname: string;
  found: boolean;
  /** Where it was found (LD_LIBRARY_PATH first, then the ld.so cache, then the usual directories). */
  path?: string;
  /** From the file the soname links to, e.g. libcudart.so.11.8.89 → 11.8.89. */
  version?: string;
  /** Same library, other major versions present (e.g. libcudart.so.13: CUDA 13, which libtensorflow 2.9.1 cannot use). */
  others?: string[];
}

export interface GpuFact {
  index: number;
  name: string;
  memoryMiB: number | null;
  driver: string | null;
}

export interface GpuProbe {
  /** Whether libtensorflow would find a GPU to run on: GPUs visible, driver library and CUDA libraries found. */
  usable: boolean;
  /** Why not, when not usable. */
  why?: string;
  /** How GPUs were looked for. */
  source: 'nvidia-smi' | 'device files' | 'none';
  gpus: GpuFact[];
  /** nvidia-smi's complaint, when it ran and failed. */
  smiError?: string;
  driverLibrary: LibraryFact;
  cudaLibraries: LibraryFact[];
  /** A remark about the driver version (too old, or old enough to need NVIDIA_DISABLE_REQUIRE=1). */
  driverNote?: string;
}

const STANDARD_DIRS = [
  '/usr/local/cuda/lib64',
  '/usr/local/nvidia/lib64',
  '/usr/local/nvidia/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/lib/wsl/lib',
];
const SMI_TIMEOUT_MS = 15_000;

export async function probeGpu(env: NodeJS.ProcessEnv = process.env): Promise<GpuProbe> {
  const cache = await ldCache(env);
  const find = (soname: string) => findLibrary(soname, env, cache);
  const driverLibrary = find(DRIVER_LIBRARY);
  const cudaLibraries = CUDA_LIBRARIES.map(find);
  const { source, gpus, smiError } = await listGpus(env);
  const driver = gpus.find((g) => g.driver)?.driver ?? null;
  const driverNote = driver ? noteOnDriver(driver) : undefined;
  const missing = cudaLibraries.filter((l) => !l.found).map((l) => l.soname);
  const hidden = hiddenByEnv(env);
  const why = hidden
    ? hidden
    : gpus.length === 0
      ? `no GPU visible (${smiError ?? (source === 'none' ? 'no nvidia-smi and no /dev/nvidia* device: no NVIDIA driver here, or the container was started without the NVIDIA Container Toolkit' : 'none listed')})`
      : !driverLibrary.found
        ? `${DRIVER_LIBRARY} (the driver's library) not found: the container was started without the NVIDIA Container Toolkit`
        : driver && compareVersions(driver, MIN_DRIVER) < 0
          ? `driver ${driver} is older than ${MIN_DRIVER}, the oldest that runs CUDA 11`
          : missing.length > 0
            ? `CUDA 11 / cuDNN 8 libraries not found: ${missing.join(', ')}`
            : undefined;
  return {
    usable: why === undefined,
    ...(why ? { why } : {}),
    source,
    gpus,
    ...(smiError ? { smiError } : {}),
    driverLibrary,
    cudaLibraries,
    ...(driverNote ? { driverNote } : {}),
  };
}

function hiddenByEnv(env: NodeJS.ProcessEnv): string | undefined {
  const v = env.CUDA_VISIBLE_DEVICES;
  if (v === undefined) return undefined;
  return v.trim() === '' || v.trim() === '-1' || v === 'NoDevFiles' ? `CUDA_VISIBLE_DEVICES=${JSON.stringify(v)} hides every GPU` : undefined;
}

function noteOnDriver(driver: string): string | undefined {
  if (compareVersions(driver, MIN_DRIVER) < 0) return `driver ${driver} is older than ${MIN_DRIVER}: CUDA 11 does not run on it`;
  if (compareVersions(driver, FULL_DRIVER) < 0 && !driver.startsWith('470.')) {
    return `driver ${driver} predates CUDA 11.8 (${FULL_DRIVER}): the GPU image runs only with NVIDIA_DISABLE_REQUIRE=1 (minor-version compatibility, no PTX JIT)`;
  }
  return undefined;
}

async function listGpus(env: NodeJS.ProcessEnv): Promise<Pick<GpuProbe, 'source' | 'gpus' | 'smiError'>> {
  const query = ['--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader,nounits'];
  const result = await run('nvidia-smi', query, env);
  if (result.ok) return { source: 'nvidia-smi', gpus: parseGpuList(result.stdout) };
  if (!result.missing) return { source: 'nvidia-smi', gpus: [], smiError: `nvidia-smi failed: ${result.error}` };
  let devices: string[] = [];
  try {
    devices = readdirSync('/dev').filter((f) => /^nvidia\d+$/.test(f));
  } catch {
    // no /dev to read
  }
  if (devices.length === 0) return { source: 'none', gpus: [] };
  const gpus = devices.map((d) => ({ index: Number(d.slice('nvidia'.length)), name: `/dev/${d}`, memoryMiB: null, driver: null }));
  return { source: 'device files', gpus };
}

/** `0, NVIDIA H100 80GB HBM3, 81559, 550.54.15` per line (a name may hold commas: index first, the rest last). */
export function parseGpuList(stdout: string): GpuFact[] {
  return stdout
    .split('\n')
    .map((line) => line.split(',').map((s) => s.trim()))
    .filter((parts) => parts.length >= 4 && /^\d+$/.test(parts[0]!))
    .map((parts) => {
      const memory = Number(parts.at(-2));
      return { index: Number(parts[0]), name: parts.slice(1, -2).join(', '), memoryMiB: Number.isFinite(memory) ? memory : null, driver: parts.at(-1) || null };
    });
}

type RunResult = { ok: true; stdout: string } | { ok: false; missing: boolean; error: string };

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: SMI_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, stdout });
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      const said = `${stdout}\n${stderr}`
        .split('\n')
        .map((s) => s.trim())
        .find((s) => s.length > 0);
      resolve({ ok: false, missing, error: said ?? (err.killed ? `no answer within ${SMI_TIMEOUT_MS / 1000} s` : err.message) });
    });
  });
}

/** soname → path, from `ldconfig -p` (empty where there is no ldconfig). */
async function ldCache(env: NodeJS.ProcessEnv): Promise<Map<string, string[]>> {
  const cache = new Map<string, string[]>();
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const result = await run(ldconfig, ['-p'], env);
    if (!result.ok) continue;
    for (const m of result.stdout.matchAll(/^\s*(\S+) \([^)]*\) => (\S+)$/gm)) {
      cache.set(m[1]!, [...(cache.get(m[1]!) ?? []), m[2]!]);
    }
    break;
  }
  return cache;
}

function findLibrary(soname: string, env: NodeJS.ProcessEnv, cache: Map<string, string[]>): LibraryFact {
  const fromPath = (env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean);
  const candidates = [...fromPath.map((d) => join(d, soname)), ...(cache.get(soname) ?? []), ...STANDARD_DIRS.map((d) => join(d, soname))];
  const path = candidates.find((p) => existsSync(p));
  const stem = soname.slice(0, soname.indexOf('.so.') + '.so.'.length);
  const others = new Set<string>();
  for (const name of cache.keys()) if (name.startsWith(stem) && name !== soname) others.add(name);
  for (const dir of fromPath) {
    try {
      for (const f of readdirSync(dir)) if (f.startsWith(stem) && f !== soname && /^[^.]+\.so\.\d+$/.test(f)) others.add(f);
    } catch {
      // a directory in LD_LIBRARY_PATH that does not exist
    }
  }
  const rest = others.size > 0 ? { others: [...others].sort() } : {};
  if (!path) return { soname, found: false, ...rest };
  let version: string | undefined;
  try {
    version = /\.so\.(\d+(?:\.\d+)*)$/.exec(basename(realpathSync(path)))?.[1];
  } catch {
    // a dangling link: found by name, version unknown
  }
  return { soname, found: true, path, ...(version ? { version } : {}), ...rest };
}

/** Compares dotted numeric versions: 515.65.01 < 520.61.05. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
