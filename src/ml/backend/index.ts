import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { registerFusedAdam } from '../train/fused-adam.js';
import { loadBlasAddon, type BlasAddon } from './blas/addon.js';
import { checkWasmInternals } from './blas/heap.js';
import { registerWasmKernels } from './wasm-kernels/register.js';
import { loadWasmModule, shutdownWasmThreads, type WasmLoadResult } from './wasm-threads.js';
import { probeGpu, type GpuProbe } from './gpu-probe.js';
import { NATIVE_PACKAGES, noGpuReason } from './probe.js';
import { BACKENDS, type BackendChoice, type BackendName } from './names.js';

export { BACKENDS, type BackendChoice, type BackendName };

export interface BackendOptions {
  /**
   * wasm: worker threads for XNNPACK. 1 (default) loads the single-threaded SIMD build, as
   * stock tfjs does in Node; >1 or 'auto' (= os.availableParallelism()) loads the threaded SIMD build.
   * Applied when wasm is first initialised in the process; later calls report what is running.
   * wasm-blas: OpenBLAS threads (the wasm kernels around them stay single-threaded). Default 1: on a
   * shared machine a second BLAS thread gains a few percent while keeping another core busy (bench/RESULTS.md).
   */
  threads?: number | 'auto';
  /** wasm only: route the slow stock kernels through XNNPACK compositions. Default true. */
  fastKernels?: boolean;
  /** Module loader, replaceable in tests to simulate installed native packages. */
  importModule?: (specifier: string) => Promise<unknown>;
  /** What the machine offers a GPU backend; replaceable in tests (default: ./gpu-probe.ts, once per process). */
  probeGpu?: () => Promise<GpuProbe>;
}

export interface BackendInfo {
  /** What the job report and the job object call it. */
  name: BackendName;
  /** tfjs' own name for the backend that is active (`tensorflow` for both native packages). */
  tfBackend: string;
  /** Threads doing the arithmetic (0: decided by libtensorflow). */
  threads: number;
  /** wasm: whether the SIMD build runs. */
  simd: boolean;
  /** wasm: kernels we registered because the package lacks them. */
  addedKernels: string[];
  /** wasm: stock kernels replaced because they compute wrong results (e.g. MaxPoolGrad). */
  fixedKernels: string[];
  /** wasm: stock kernels replaced by fast compositions. */
  fastKernels: string[];
  /** Why better candidates were skipped (`auto`), e.g. "tensorflow: @tensorflow/tfjs-node is not installed". */
  skipped: string[];
  /** wasm-blas: the OpenBLAS build, the CPU kernels it picked, its threads and the kernels it serves; null elsewhere. */
  blas: BlasInfo | null;
  /** How Adam updates each variable: `fused` (one wasm kernel: `native` addon or `js` loop) or `stock` (tfjs' kernels). */
  adam: 'fused-native' | 'fused-js' | 'stock';
}

export interface BlasInfo {
  config: string;
  core: string;
  threads: number;
  kernels: string[];
}

/** Why a backend cannot run, in our own words: fit for job events and reports, unlike a loader's raw error. */
class BackendUnavailable extends Error {}

let active: BackendInfo | undefined;
/** The native package loaded in this process, if any: a second one would silently reuse the first. */
let nativeLoaded: (typeof NATIVE_PACKAGES)[keyof typeof NATIVE_PACKAGES] | undefined;
let gpuProbe: Promise<GpuProbe> | undefined;
let wasmLoad: WasmLoadResult | undefined;

/**
 * Loads and activates a training backend. `auto` (or a repeated call for the backend already
 * active) returns the active backend; an explicit choice may switch between wasm and cpu, but once a
 * native package is loaded no other native package can be. Throws, naming every failure, when no
 * candidate loads.
 */
export async function initBackend(choice: BackendChoice = 'auto', options: BackendOptions = {}): Promise<BackendInfo> {
  if (active && (choice === 'auto' || choice === active.name)) {
    if (active.name === 'wasm' || active.name === 'wasm-blas') active = { ...active, ...wasmKernelInfo(options, blasAddon(active.name)) };
    return active;
  }
  const candidates: readonly BackendName[] = choice === 'auto' ? BACKENDS : [choice];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      active = { ...(await activate(name, options)), skipped };
      return active;
    } catch (err) {
      skipped.push(`${name}: ${whySkipped(name, err)}`);
    }
  }
  throw new Error(`no training backend could be loaded (${skipped.join('; ')})`);
}

/** What the job report says about how the arithmetic ran. */
export function computeOf(info: BackendInfo): { threads: number; blas: string | null; adam: BackendInfo['adam'] } {
  return { threads: info.threads, blas: info.blas ? `OpenBLAS ${info.blas.core} kernels for ${info.blas.kernels.join(', ')}` : null, adam: info.adam };
}

/** The backend `initBackend` activated last, if any. */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

/**
 * Lets the process exit: the threaded wasm build keeps worker threads alive. Call once training is
 * over for good (tfjs cannot re-initialise wasm in the same process afterwards).
 */
export async function shutdownBackend(): Promise<void> {
  await shutdownWasmThreads();
}

async function activate(name: BackendName, options: BackendOptions): Promise<Omit<BackendInfo, 'skipped'>> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    await loadNative(name, options);
    if (!(await tf.setBackend('tensorflow'))) throw new BackendUnavailable('tensorflow backend did not initialise');
    return { name, tfBackend: 'tensorflow', threads: 0, simd: false, addedKernels: [], fixedKernels: [], fastKernels: [], blas: null, adam: 'stock' };
  }
  if (name === 'wasm-blas') {
    const load = loadBlasAddon();
    if (!load.ok) throw new BackendUnavailable(load.reason);
    wasmLoad ??= await loadWasmModule(1);
    if (!(await tf.setBackend('wasm'))) throw new BackendUnavailable('wasm backend did not initialise');
    await tf.ready();
    checkInternalsOnce();
    load.addon.setThreads(options.threads === 'auto' ? os.availableParallelism() : Math.max(1, Math.floor(options.threads ?? 1)));
    const kernels = wasmKernelInfo(options, load.addon);
    return { name, tfBackend: 'wasm', threads: kernels.blas!.threads, simd: wasmLoad.simd, ...kernels };
  }
  if (name === 'wasm') {
    wasmLoad ??= await loadWasmModule(options.threads ?? 1);
    if (!(await tf.setBackend('wasm'))) throw new BackendUnavailable('wasm backend did not initialise');
    await tf.ready();
    return { name, tfBackend: 'wasm', threads: wasmLoad.threads(), simd: wasmLoad.simd, ...wasmKernelInfo(options, null) };
  }
  if (!(await tf.setBackend(name))) throw new BackendUnavailable(`${name} backend did not initialise`);
  await tf.ready();
  return { name, tfBackend: name, threads: 1, simd: false, addedKernels: [], fixedKernels: [], fastKernels: [], blas: null, adam: 'stock' };
}

function blasAddon(name: BackendName): BlasAddon | null {
  const load = name === 'wasm-blas' ? loadBlasAddon() : undefined;
  return load?.ok ? load.addon : null;
}

let internalsChecked = false;
/** The native kernels read tfjs-backend-wasm internals: refuse to run on them if an upgrade moved them. */
function checkInternalsOnce(): void {
  if (internalsChecked) return;
  const values = Float32Array.from([1.5, -2, 3.25]);
  const sample = tf.tensor1d(values);
  try {
    checkWasmInternals(tf.backend(), { dataId: sample.dataId, shape: sample.shape, dtype: sample.dtype }, values);
  } catch (err) {
    throw new BackendUnavailable((err as Error).message);
  } finally {
    sample.dispose();
  }
  internalsChecked = true;
}

/**
 * Loads the package that serves a native backend. tensorflow-gpu needs @tensorflow/tfjs-node-gpu and a
 * usable GPU: without one, libtensorflow's GPU build quietly runs on the CPU, which is what `tensorflow`
 * names, so that is the name it gets (served by @tensorflow/tfjs-node, or by the GPU package where
 * only that one is installed, as in the GPU image).
 */
async function loadNative(name: 'tensorflow-gpu' | 'tensorflow', options: BackendOptions): Promise<void> {
  const importModule = async (pkg: string) => {
    try {
      await (options.importModule ?? ((s: string) => import(s)))(pkg);
    } catch (err) {
      // Said plainly when it is the package itself that is missing (not one of its dependencies).
      if (/^Cannot find (package|module) '([^']+)'/.exec((err as Error).message)?.[2] === pkg) throw new BackendUnavailable(`${pkg} is not installed`);
      throw err;
    }
  };
  const gpu = () => (options.probeGpu ? options.probeGpu() : (gpuProbe ??= probeGpu()));
  const gpuPackage = NATIVE_PACKAGES['tensorflow-gpu'];
  if (name === 'tensorflow-gpu') {
    if (nativeLoaded && nativeLoaded !== gpuPackage)
      throw new BackendUnavailable(`${nativeLoaded} is already loaded in this process; only one native tfjs package can be`);
    // Optional packages: installed only where libtensorflow could be downloaded at install time.
    await importModule(gpuPackage);
    nativeLoaded = gpuPackage;
    const probe = await gpu();
    if (!probe.usable) throw new BackendUnavailable(noGpuReason(probe));
    return;
  }
  if (nativeLoaded === gpuPackage) {
    if ((await gpu()).usable) throw new BackendUnavailable(`${gpuPackage} is already loaded in this process and would run on the GPU: choose tensorflow-gpu`);
    return;
  }
  if (nativeLoaded) return;
  try {
    await importModule(NATIVE_PACKAGES.tensorflow);
    nativeLoaded = NATIVE_PACKAGES.tensorflow;
  } catch (err) {
    // The GPU image installs only the GPU package: on a machine without a usable GPU it is the CPU build.
    try {
      await importModule(gpuPackage);
    } catch {
      throw err;
    }
    nativeLoaded = gpuPackage;
    if ((await gpu()).usable)
      throw new BackendUnavailable(`${NATIVE_PACKAGES.tensorflow} is not installed, and ${gpuPackage} would run on the GPU: choose tensorflow-gpu`);
  }
}

function wasmKernelInfo(
  options: BackendOptions,
  addon: BlasAddon | null,
): Pick<BackendInfo, 'addedKernels' | 'fixedKernels' | 'fastKernels' | 'blas' | 'adam'> {
  const { added, fixed, fastPaths, blas } = registerWasmKernels(options.fastKernels ?? true, addon);
  const adam = registerFusedAdam(addon) === 'native' ? 'fused-native' : 'fused-js';
  const described = addon?.describe();
  return {
    addedKernels: added,
    fixedKernels: fixed,
    fastKernels: fastPaths,
    blas: described ? { config: described.config, core: described.core, threads: described.threads, kernels: blas } : null,
    adam,
  };
}

const PACKAGES: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  'wasm-blas': 'distill-blas',
};

/**
 * Why a backend did not load, in words that hold no server path: this list reaches job events and
 * reports. The raw error (module resolution paths, native loader output) is of use only in the log.
 */
function whySkipped(name: BackendName, err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(message)) {
    return `${PACKAGES[name] ?? name} is not installed`;
  }
  // Our own words (thrown by activate) are fit to pass on.
  if (err instanceof BackendUnavailable) return message;
  return PACKAGES[name] ? `${PACKAGES[name]} is installed but could not be loaded (for example, libtensorflow is missing)` : 'it could not be loaded';
}
