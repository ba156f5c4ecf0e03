/**
 * The CPU-heavy checks of an upload (unpacking and parsing a dataset, building a model to describe
 * it) run in a child process on the files as stored: a 32 MiB CSV takes over a second to parse, and on
 * the API's event loop that would stall every request and socket of every tenant (and trip the
 * event-loop-lag 503s). The child reads the files from the store, so no upload crosses the IPC channel.
 * A process, not a thread: an upload that exhausts memory takes down only its own check, and it runs
 * under tsx in development as the training child does.
 *
 * Each child has a heap limit and a resident-memory cap (UPLOAD_CHECK_MEMORY_MB) and a deadline
 * (UPLOAD_CHECK_TIMEOUT_MS); a child past either is killed and the upload refused naming which. How
 * many run at once is bounded by UploadSlots (upload-slots.ts), which the routes take per upload.
 */
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import type { ModelDescription } from './model-files.js';
import type { ExportReport, OnnxInputDeclaration, OnnxModelFacts, Quantization, ResolvedExport } from '../ml/tfjs-free.js';
import type { EngineSpec } from '../ml/tfjs-free.js';

/** One file an export wrote to the store. */
export interface StoredExport {
  kind: string;
  file: string;
  key: string;
  bytes: number;
  sha256: string;
}

/** A finished job as its exports need it: its spec, and the storage keys of its uploaded datasets and of its models by kind. */
export interface FinishedJob {
  spec: EngineSpec;
  datasets: Record<string, string>;
  models: Array<{ kind: string; key: string }>;
  /** Its artifacts already stored (`kind/file`): made again to score them, but not written again. */
  stored: string[];
}

/** A finished job's exports: the files written, and the report rows when its test split could be rebuilt. */
export interface JobExports {
  files: StoredExport[];
  report?: ExportReport;
}

/** What the API records of a dataset: its sizes and shape, not its samples. */
export interface DatasetSummary {
  numTrain: number;
  numTest: number | null;
  shape: number[];
  classNames: string[];
}

/** What one check may use: its child's memory (MiB) and time (ms). */
export interface CheckLimits {
  memoryMb: number;
  timeoutMs: number;
}

/** What a dataset upload may claim: unpacked bytes (MAX_UPLOAD_BYTES) and classes (MAX_CLASSES). */
export interface DatasetLimits {
  maxBytes: number;
  maxClasses: number;
}

export type CheckRequest =
  | { kind: 'dataset'; store: string; key: string; limits: DatasetLimits }
  | { kind: 'model'; store: string; key: string }
  | { kind: 'onnx'; store: string; key: string; declared: OnnxInputDeclaration }
  | { kind: 'export'; store: string; job: FinishedJob; request: ResolvedExport; outPrefix: string }
  | { kind: 'export-onnx'; store: string; key: string; quantize?: Quantization; outKey: string };

type CheckResult = DatasetSummary | ModelDescription | OnnxModelFacts | JobExports | StoredExport;

export type CheckReply =
  | { ok: true; result: CheckResult }
  /** `refused`: the upload is at fault (a ResourceError); without it, the check itself failed. */
  | { ok: false; message: string; refused?: { status: ResourceError['status']; code: string; reason?: string } };

// upload-check-child.ts under tsx, .js once built: the same extension as this file.
const CHILD_ENTRY = fileURLToPath(new URL(`./upload-check-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
const RSS_POLL_MS = 50;
const PAGE_BYTES = 4096;

/** Parses and validates a stored dataset with the engine's loaders; throws ResourceError if they refuse it. */
export function checkStoredDataset(store: ArtifactStore, key: string, limits: DatasetLimits, check: CheckLimits): Promise<DatasetSummary> {
  return runInChild({ kind: 'dataset', store: store.location, key, limits }, check) as Promise<DatasetSummary>;
}

/** Loads a stored model to describe it; throws ResourceError if it does not load or cannot be a teacher. */
export function describeStoredModel(store: ArtifactStore, key: string, check: CheckLimits): Promise<ModelDescription> {
  return runInChild({ kind: 'model', store: store.location, key }, check) as Promise<ModelDescription>;
}

/** Checks a stored ONNX model with onnxruntime; throws ResourceError naming why it cannot be a teacher. */
export function describeStoredOnnx(store: ArtifactStore, key: string, declared: OnnxInputDeclaration, check: CheckLimits): Promise<OnnxModelFacts> {
  return runInChild({ kind: 'onnx', store: store.location, key, declared }, check) as Promise<OnnxModelFacts>;
}

/** Writes the files `request` asks for of a finished job's models under `outPrefix` (in the check child), with their report rows; ResourceError if a model cannot be exported. */
export function exportInChild(store: ArtifactStore, job: FinishedJob, request: ResolvedExport, outPrefix: string, check: CheckLimits): Promise<JobExports> {
  return runInChild({ kind: 'export', store: store.location, job, request, outPrefix }, check) as Promise<JobExports>;
}

/** Writes a stored model's ONNX file to `outKey` (in the check child); ResourceError if it cannot be exported. */
export function exportOnnxInChild(
  store: ArtifactStore,
  key: string,
  quantize: Quantization | undefined,
  outKey: string,
  check: CheckLimits,
): Promise<StoredExport> {
  return runInChild({ kind: 'export-onnx', store: store.location, key, ...(quantize ? { quantize } : {}), outKey }, check) as Promise<StoredExport>;
}

const tooComplex = (reason: 'check_memory' | 'check_timeout', message: string) => new ResourceError(413, 'upload_too_complex', message, reason);

function runInChild(request: CheckRequest, limits: CheckLimits): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const execArgv = [...process.execArgv.filter((a) => !a.startsWith('--max-old-space-size')), `--max-old-space-size=${limits.memoryMb}`];
    const child = fork(CHILD_ENTRY, [], { execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let reply: CheckReply | undefined;
    let killedFor: ResourceError | undefined;
    let stderr = '';
    const stop = (why: ResourceError) => {
      if (killedFor || reply) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const what = request.kind === 'onnx' ? 'model' : request.kind;
    const memoryRefusal = () =>
      tooComplex(
        'check_memory',
        `checking this ${what} needs more than ${limits.memoryMb} MiB of memory (the server's limit, UPLOAD_CHECK_MEMORY_MB): upload a smaller one`,
      );
    const deadline = setTimeout(
      () =>
        stop(
          tooComplex(
            'check_timeout',
            `checking this ${what} took longer than ${limits.timeoutMs} ms (the server's limit, UPLOAD_CHECK_TIMEOUT_MS): upload a smaller one`,
          ),
        ),
      limits.timeoutMs,
    );
    // Typed arrays live outside the heap the V8 limit counts: the resident size is watched too (Linux).
    const poll = setInterval(() => {
      if (child.pid === undefined) return;
      readFile(`/proc/${child.pid}/statm`, 'utf8').then(
        (statm) => {
          const resident = Number(statm.split(' ')[1]) * PAGE_BYTES;
          if (resident > limits.memoryMb * 1024 ** 2) stop(memoryRefusal());
        },
        () => clearInterval(poll),
      );
    }, RSS_POLL_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      // Kept short: to tell a heap-limit crash from any other, and for the log of a check that failed.
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    child.once('message', (message: CheckReply) => {
      reply = message;
    });
    child.once('error', (err) => {
      clearTimeout(deadline);
      clearInterval(poll);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      clearInterval(poll);
      if (killedFor) reject(killedFor);
      else if (!reply) {
        if (/heap limit|out of memory|allocation failed/i.test(stderr)) reject(memoryRefusal());
        else reject(new Error(`the upload check ended (code ${code}, signal ${signal}) without an answer: ${stderr.slice(-500)}`));
      } else if (reply.ok) resolve(reply.result);
      else if (reply.refused) reject(new ResourceError(reply.refused.status, reply.refused.code, reply.message, reply.refused.reason));
      else if (/Invalid typed array length|Array buffer allocation failed|Invalid array length/i.test(reply.message)) reject(memoryRefusal());
      else reject(new Error(`upload check failed: ${reply.message}`));
    });
    child.send(request);
  });
}
