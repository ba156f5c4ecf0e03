import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from './wasm-kernels/register.js';
import { loadWasmModule, shutdownWasmThreads, type WasmLoadResult } from './wasm-threads.js';

/** The backends a worker can run on, best first. `auto` picks the best one that loads. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

export interface BackendOptions {
  /**
   * wasm only: worker threads for XNNPACK. 1 (default) loads the single-threaded SIMD build, as
   * stock tfjs does in Node; >1 or 'auto' (= os.availableParallelism()) loads the threaded SIMD build.
   * Applied when wasm is first initialised in the process; later calls report what is running.
   */
  threads?: number | 'auto';
  /** wasm only: route the slow stock kernels through XNNPACK compositions. Default true. */
  fastKernels?: boolean;
  /** Module loader, replaceable in tests to simulate installed native packages. */
  importModule?: (specifier: string) => Promise<unknown>;
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
  /** Why better candidates were skipped (`auto`), e.g. "tensorflow: Cannot find package ...". */
  skipped: string[];
}

let active: BackendInfo | undefined;
/** The native package loaded in this process, if any: a second one would silently reuse the first. */
let nativeLoaded: BackendName | undefined;
let wasmLoad: WasmLoadResult | undefined;

/**
 * Loads and activates a training backend. `auto` (or a repeated call for the backend already
 * active) returns the active backend; an explicit choice may switch between wasm and cpu, but once a
 * native package is loaded no other native package can be. Throws, naming every failure, when no
 * candidate loads.
 */
export async function initBackend(choice: BackendChoice = 'auto', options: BackendOptions = {}): Promise<BackendInfo> {
  if (active && (choice === 'auto' || choice === active.name)) {
    if (active.name === 'wasm') active = { ...active, ...wasmKernelInfo(options) };
    return active;
  }
  const candidates: readonly BackendName[] = choice === 'auto' ? BACKENDS : [choice];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      active = { ...(await activate(name, options)), skipped };
      return active;
    } catch (err) {
      skipped.push(`${name}: ${firstLine(err)}`);
    }
  }
  throw new Error(`no training backend could be loaded (${skipped.join('; ')})`);
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
  const importModule = options.importModule ?? ((s: string) => import(s));
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    if (nativeLoaded && nativeLoaded !== name) {
      throw new Error(`${nativeLoaded} is already loaded in this process; only one native tfjs package can be`);
    }
    // Optional packages: installed only where libtensorflow could be downloaded at install time.
    await importModule(name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
    nativeLoaded = name;
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend did not initialise');
    return { name, tfBackend: 'tensorflow', threads: 0, simd: false, addedKernels: [], fixedKernels: [], fastKernels: [] };
  }
  if (name === 'wasm') {
    wasmLoad ??= await loadWasmModule(options.threads ?? 1);
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend did not initialise');
    await tf.ready();
    return { name, tfBackend: 'wasm', threads: wasmLoad.threads(), simd: wasmLoad.simd, ...wasmKernelInfo(options) };
  }
  if (!(await tf.setBackend(name))) throw new Error(`${name} backend did not initialise`);
  await tf.ready();
  return { name, tfBackend: name, threads: 1, simd: false, addedKernels: [], fixedKernels: [], fastKernels: [] };
}

function wasmKernelInfo(options: BackendOptions): Pick<BackendInfo, 'addedKernels' | 'fixedKernels' | 'fastKernels'> {
  const { added, fixed, fastPaths } = registerWasmKernels(options.fastKernels ?? true);
  return { addedKernels: added, fixedKernels: fixed, fastKernels: fastPaths };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
