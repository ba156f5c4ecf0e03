/**
 * The CPU-heavy checks of an upload (unpacking and parsing a dataset, building a model to describe
 * it) run in a child process on the files as stored: a 32 MiB CSV takes over a second to parse, and on
 * the API's event loop that would stall every request and socket of every tenant (and trip the
 * event-loop-lag 503s). The child reads the files from the store, so no upload crosses the IPC channel.
 * A process, not a thread: an upload that exhausts memory takes down only its own check, and it runs
 * under tsx in development as the training child does. One per upload: uploads are rare.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { ResourceError } from './errors.js';
import type { ModelDescription } from './model-files.js';

/** What the API records of a dataset: its sizes and shape, not its samples. */
export interface DatasetSummary {
  numTrain: number;
  numTest: number | null;
  shape: number[];
  classNames: string[];
}

export type CheckRequest = { kind: 'dataset'; store: string; key: string; maxBytes: number } | { kind: 'model'; store: string; key: string };

export type CheckReply =
  | { ok: true; result: DatasetSummary | ModelDescription }
  /** `refused`: the upload is at fault (a ResourceError); without it, the check itself failed. */
  | { ok: false; message: string; refused?: { status: ResourceError['status']; code: string; reason?: string } };

// upload-check-child.ts under tsx, .js once built: the same extension as this file.
const CHILD_ENTRY = fileURLToPath(new URL(`./upload-check-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

/** Parses and validates a stored dataset with the engine's loaders; throws ResourceError if they refuse it. */
export function checkStoredDataset(store: ArtifactStore, key: string, maxBytes: number): Promise<DatasetSummary> {
  return runInChild({ kind: 'dataset', store: store.location, key, maxBytes }) as Promise<DatasetSummary>;
}

/** Loads a stored model to describe it; throws ResourceError if it does not load or cannot be a teacher. */
export function describeStoredModel(store: ArtifactStore, key: string): Promise<ModelDescription> {
  return runInChild({ kind: 'model', store: store.location, key }) as Promise<ModelDescription>;
}

function runInChild(request: CheckRequest): Promise<DatasetSummary | ModelDescription> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD_ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: CheckReply | undefined;
    child.once('message', (message: CheckReply) => {
      reply = message;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!reply) reject(new Error(`the upload check ended (code ${code}, signal ${signal}) without an answer`));
      else if (reply.ok) resolve(reply.result);
      else if (reply.refused) reject(new ResourceError(reply.refused.status, reply.refused.code, reply.message, reply.refused.reason));
      else reject(new Error(`upload check failed: ${reply.message}`));
    });
    child.send(request);
  });
}
