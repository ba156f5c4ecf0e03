import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Loads tfjs-backend-wasm, optionally its threaded-SIMD build. In Node the package always picks the
 * single-threaded build (its multithread flag is hard-wired to false for Node) even though it ships
 * the threaded one. That build runs in Node once three browser assumptions are bridged:
 * - its pthread worker script is handed over as a `blob:` URL, which worker_threads rejects: we write
 *   the script (embedded in the package bundle) to a real file;
 * - each worker loads the module factory from a Blob, which Node cannot `importScripts`: the worker
 *   file loads a second real file holding the factory (cut out of the same bundle);
 * - it sizes the thread pool to os.cpus()/2 (assuming hyperthreads) and caps requests there: we
 *   report twice the wanted count while it initialises.
 * Pinned to tfjs-backend-wasm 4.22.0: the cut points are checked and a mismatch fails loudly.
 */

export interface WasmLoadResult {
  simd: boolean;
  /** Threads in XNNPACK's pool, as the running module reports them. */
  threads: () => number;
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');
interface PThreadLike {
  unusedWorkers: Array<{ terminate(): unknown }>;
  runningWorkers: Array<{ unref(): void }>;
  terminateAllThreads(): void;
}

const require = createRequire(import.meta.url);
let threadsModule: PThreadLike | undefined;

export async function loadWasmModule(threads: number | 'auto'): Promise<WasmLoadResult> {
  const wasm: WasmModule = await import('@tensorflow/tfjs-backend-wasm');
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const wanted = threads === 'auto' ? os.availableParallelism() : Math.max(1, Math.floor(threads));
  if (wanted > 1 && simd) await initThreaded(wasm, wanted);
  return { simd, threads: () => wasm.getThreadsCount() };
}

async function initThreaded(wasm: WasmModule, threads: number): Promise<void> {
  const workerPath = writeThreadFiles();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  const realCpus = os.cpus;
  const realCreateObjectURL = URL.createObjectURL;
  const cpus = realCpus();
  os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]!);
  URL.createObjectURL = () => workerPath;
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('threaded wasm backend did not initialise');
  } finally {
    os.cpus = realCpus;
    URL.createObjectURL = realCreateObjectURL;
  }
  const pthread = (tf.backend() as unknown as { wasm: { PThread?: PThreadLike } }).wasm.PThread;
  if (!pthread) throw new Error('threaded wasm build did not start its thread pool');
  threadsModule = pthread;
  // Emscripten pre-spawns 8 workers; the pool took what it needs, the idle ones only hold memory.
  for (const w of pthread.unusedWorkers.splice(0)) w.terminate();
  // Pool threads must not keep the process alive once the job is done.
  for (const w of pthread.runningWorkers) w.unref();
}

/** Terminates the pool threads; the wasm backend cannot run kernels afterwards. */
export async function shutdownWasmThreads(): Promise<void> {
  threadsModule?.terminateAllThreads();
  threadsModule = undefined;
}

/** Writes the worker script and the module factory it loads; returns the worker script's path. */
function writeThreadFiles(): string {
  const bundlePath = require.resolve('@tensorflow/tfjs-backend-wasm');
  const bundle = readFileSync(bundlePath, 'utf8');
  const workerSource = cutWorkerSource(bundle);
  const factorySource = cutFactorySource(bundle);
  const hash = createHash('sha256').update(bundle).digest('hex').slice(0, 12);
  const dir = join(os.tmpdir(), `distill-tfjs-wasm-threads-${hash}`);
  mkdirSync(dir, { recursive: true });
  const factoryPath = join(dir, 'factory.cjs');
  const workerPath = join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs');
  const loadFromBlob = /if\(typeof e\.data\.urlOrBlob=="string"\)\{importScripts\(e\.data\.urlOrBlob\)\}else\{[^}]*\}/;
  if (!loadFromBlob.test(workerSource)) throw new Error('unexpected tfjs-backend-wasm worker script');
  writeAtomically(factoryPath, factorySource);
  writeAtomically(workerPath, workerSource.replace(loadFromBlob, `importScripts(${JSON.stringify(factoryPath)});`));
  return workerPath;
}

function cutWorkerSource(bundle: string): string {
  const m = /var wasmWorkerContents = ("(?:[^"\\]|\\.)*");/.exec(bundle);
  if (!m?.[1]) throw new Error('tfjs-backend-wasm bundle has no embedded worker script');
  // The package escapes newlines the same way before making its blob: some sit inside string literals.
  return (JSON.parse(m[1]) as string).replace(/\n/g, '\\n');
}

/**
 * The threaded factory as a script that defines `WasmBackendModuleThreadedSimd` globally, with the
 * bundle-level names it closes over (rollup's `require$$N` and tslib helpers) defined before it.
 */
function cutFactorySource(bundle: string): string {
  const start = bundle.indexOf('var WasmBackendModuleThreadedSimd = (function () {');
  const end = bundle.indexOf('module.exports = WasmBackendModuleThreadedSimd;', start);
  const helpers = ['__values', '__read'].map((name) => {
    const m = new RegExp(`^function ${name}\\([^]*?^}`, 'm').exec(bundle);
    if (!m) throw new Error(`tfjs-backend-wasm bundle has no ${name} helper`);
    return m[0];
  });
  if (start < 0 || end < 0) throw new Error('tfjs-backend-wasm bundle has no threaded module factory');
  const prelude = [
    "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os');",
    'var commonjsGlobal = globalThis;',
    ...helpers,
  ].join('\n');
  return `${prelude}\n${bundle.slice(start, end)}\n`;
}

function writeAtomically(path: string, content: string): void {
  try {
    if (readFileSync(path, 'utf8') === content) return;
  } catch {
    // not written yet
  }
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}
