/**
 * What each training backend needs and whether this machine has it, found without loading a backend:
 * the worker process asks at start (it trains in children), `distill doctor` asks and then also loads.
 * Kept free of tfjs imports for that reason. `initBackend` (./index.ts) gates tensorflow-gpu on the
 * same GPU facts, so what is predicted here is what a training child does.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { probeGpu, type GpuProbe } from './gpu-probe.js';

export { probeGpu, parseGpuList, CUDA_LIBRARIES, DRIVER_LIBRARY, MIN_DRIVER, FULL_DRIVER, type GpuProbe, type GpuFact, type LibraryFact } from './gpu-probe.js';

/** Best first, as initBackend tries them (the same list as ./index.ts, which loads tfjs). */
export const BACKEND_ORDER = ['tensorflow-gpu', 'tensorflow', 'wasm-blas', 'wasm', 'cpu'] as const;
export type ProbedBackend = (typeof BACKEND_ORDER)[number];

export const NATIVE_PACKAGES = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' } as const;

export interface NativePackageFact {
  package: string;
  installed: boolean;
  version?: string;
  /** The libtensorflow shared library the package downloaded at install time, if it is there. */
  libtensorflow?: string;
  /** The compiled binding that loads it. */
  binding?: string;
  /** What is amiss on disk (informational: only loading it tells; `distill doctor` loads it). */
  note?: string;
}

export interface WasmFact {
  /** The runtime validates WebAssembly SIMD (tfjs-backend-wasm's own test module). */
  simd: boolean;
  /** The threaded SIMD build ships with the package and the runtime has SharedArrayBuffer. */
  threadedBuild: boolean;
  /** Threads the wasm backend trains with: 1, tfjs' default in Node (no setting changes it yet). */
  threads: number;
  cores: number;
}

/**
 * The native BLAS path for wasm's heavy kernels (`wasm-blas`): the optional `distill-blas` addon
 * (native/blas), built at npm install where libopenblas-dev and a compiler are present.
 */
export interface BlasFact {
  built: boolean;
  path: string | null;
  detail: string;
}

export interface BackendFacts {
  packages: Record<keyof typeof NATIVE_PACKAGES, NativePackageFact>;
  gpu: GpuProbe;
  wasm: WasmFact;
  blas: BlasFact;
}

export interface Prediction {
  /** What initBackend would activate for the choice: null when the choice cannot load. */
  backend: ProbedBackend | null;
  /** For each backend tried before it (all better ones for `auto`), why it would be skipped. */
  skipped: Array<{ backend: ProbedBackend; reason: string }>;
  /** The npm package serving a native backend. */
  package?: string;
}

const require = createRequire(import.meta.url);

export async function probeBackends(env: NodeJS.ProcessEnv = process.env): Promise<BackendFacts> {
  return {
    packages: { 'tensorflow-gpu': probePackage(NATIVE_PACKAGES['tensorflow-gpu']), tensorflow: probePackage(NATIVE_PACKAGES.tensorflow) },
    gpu: await probeGpu(env),
    wasm: probeWasm(),
    blas: probeBlas(),
  };
}

/** Whether the addon is installed and compiled, found on disk (loading it starts OpenBLAS's threads). */
function probeBlas(): BlasFact {
  let dir: string;
  try {
    dir = dirname(require.resolve('distill-blas/package.json'));
  } catch {
    return {
      built: false,
      path: null,
      detail: 'not built: distill-blas is not installed (npm install builds it where libopenblas-dev, python3, make and g++ are present)',
    };
  }
  const binding = join(dir, 'build', 'Release', 'distill_blas.node');
  if (!existsSync(binding)) return { built: false, path: null, detail: `not built: distill-blas is installed at ${dir} but its addon was not compiled` };
  return { built: true, path: binding, detail: `built: ${binding}` };
}

/** Which backend `choice` gives on a machine with these facts, and why better ones would be skipped. */
export function predictBackend(choice: ProbedBackend | 'auto', facts: BackendFacts): Prediction {
  const candidates = choice === 'auto' ? BACKEND_ORDER : [choice];
  const skipped: Prediction['skipped'] = [];
  for (const backend of candidates) {
    const verdict = nativeVerdict(backend, facts);
    if (verdict.ok) return { backend, skipped, ...(verdict.package ? { package: verdict.package } : {}) };
    skipped.push({ backend, reason: verdict.reason });
  }
  return { backend: null, skipped };
}

type Verdict = { ok: true; package?: string } | { ok: false; reason: string };

function nativeVerdict(backend: ProbedBackend, facts: BackendFacts): Verdict {
  if (backend === 'wasm' || backend === 'cpu') return { ok: true };
  if (backend === 'wasm-blas') return facts.blas.built ? { ok: true } : { ok: false, reason: facts.blas.detail.replace(/^not built: /, '') };
  const gpuPkg = facts.packages['tensorflow-gpu'];
  if (backend === 'tensorflow-gpu') {
    if (!gpuPkg.installed) return { ok: false, reason: `${gpuPkg.package} is not installed` };
    if (!facts.gpu.usable) return { ok: false, reason: noGpuReason(facts.gpu) };
    return { ok: true, package: gpuPkg.package };
  }
  const cpuPkg = facts.packages.tensorflow;
  if (cpuPkg.installed) return { ok: true, package: cpuPkg.package };
  // libtensorflow's GPU build runs on the CPU where it finds no GPU: the GPU image falls back to it.
  if (gpuPkg.installed && !facts.gpu.usable) return { ok: true, package: gpuPkg.package };
  return { ok: false, reason: `${cpuPkg.package} is not installed` };
}

/** The reason initBackend gives when the GPU package loads but finds no GPU. */
export function noGpuReason(gpu: GpuProbe): string {
  return `${NATIVE_PACKAGES['tensorflow-gpu']} is installed, but ${gpu.why ?? 'no GPU is usable'}; libtensorflow would run on the CPU`;
}

function probePackage(name: string): NativePackageFact {
  let dir: string;
  try {
    dir = dirname(require.resolve(`${name}/package.json`));
  } catch {
    return { package: name, installed: false };
  }
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  const binding = firstBinding(join(dir, 'lib'));
  const libtensorflow = firstFile(join(dir, 'deps', 'lib'), /^libtensorflow\.so/) ?? (binding ? firstFile(dirname(binding), /^libtensorflow\.so/) : undefined);
  const note = !libtensorflow
    ? 'no libtensorflow under deps/lib: its install script may not have downloaded it'
    : !binding
      ? 'no compiled binding under lib/napi-v*'
      : undefined;
  return {
    package: name,
    installed: true,
    ...(version ? { version } : {}),
    ...(libtensorflow ? { libtensorflow } : {}),
    ...(binding ? { binding } : {}),
    ...(note ? { note } : {}),
  };
}

function firstFile(dir: string, pattern: RegExp): string | undefined {
  try {
    const f = readdirSync(dir).find((name) => pattern.test(name));
    return f ? join(dir, f) : undefined;
  } catch {
    return undefined;
  }
}

function firstBinding(libDir: string): string | undefined {
  try {
    for (const d of readdirSync(libDir).filter((n) => n.startsWith('napi-v'))) {
      const p = join(libDir, d, 'tfjs_binding.node');
      if (existsSync(p)) return p;
    }
  } catch {
    // no lib/ directory
  }
  return undefined;
}

// tfjs-backend-wasm's WASM_HAS_SIMD_SUPPORT test: a module using one SIMD instruction.
const SIMD_TEST = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11]);

function probeWasm(): WasmFact {
  const simd = WebAssembly.validate(SIMD_TEST);
  let threadedBuild = false;
  try {
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    threadedBuild = simd && typeof SharedArrayBuffer === 'function' && existsSync(join(dist, 'tfjs-backend-wasm-threaded-simd.wasm'));
  } catch {
    // the wasm package is a dependency: not finding it is reported by initBackend
  }
  return { simd, threadedBuild, threads: 1, cores: os.availableParallelism() };
}
