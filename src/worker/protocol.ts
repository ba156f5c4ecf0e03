import type { BackendChoice, BackendInfo, EngineErrorCode, EngineEvent } from '../ml/tfjs-free.js';
import type { StoredResources } from '../jobs/references.js';
import type { JobModel } from '../resources/model-files.js';

/**
 * Why the parent asks a training child to stop early. `database`: Postgres stayed unreachable for
 * longer than DB_RETRY_SECONDS, so progress could not be recorded.
 */
export type AbortReason = 'cancel' | 'timeout' | 'shutdown' | 'fenced' | 'database';

export interface StoredFile {
  kind: string;
  file: string;
  key: string;
  bytes: number;
  sha256: string;
}

export type ParentMessage =
  | {
      type: 'start';
      jobId: string;
      attempt: number;
      spec: unknown;
      backend: BackendChoice;
      /** The artifact store to open (ArtifactStore.location: a directory, or an S3 bucket). */
      artifactDir: string;
      /** The checkpoint to resume from, as a key in the artifact store. */
      checkpointKey?: string;
      checkpointSeq: number;
      /** Storage keys of the uploaded datasets and stored models the spec names, by id. */
      resources: StoredResources;
      /** WORKER_MEMORY_BUDGET_MB: past this resident set the child fails its job (memory_limit_exceeded). */
      memoryBudgetMb: number;
    }
  | { type: 'abort'; reason: AbortReason }
  | { type: 'checkpoint-saved'; seq: number };

export type ChildMessage =
  /** Sent once the child listens: messages sent before that could be lost. */
  | { type: 'listening' }
  | { type: 'ready'; backend: BackendInfo }
  | { type: 'event'; event: EngineEvent }
  /** tfjs memory of the child, every few seconds while it trains. */
  | { type: 'memory'; tensors: number; bytes: number }
  | { type: 'checkpoint'; seq: number; key: string; bytes: number; phase: string; epoch: number }
  /** `models`: the student and trained teacher, described, to be registered as models. */
  | { type: 'done'; report: Record<string, unknown>; files: StoredFile[]; models: JobModel[] }
  /**
   * `engine`: the job itself cannot succeed (bad data or spec, diverged, over the memory cap), so it is
   * not retried. `detail`: the raw error with its stack, for the worker's log only (never a client).
   */
  | {
      type: 'failed';
      error: { code: EngineErrorCode | 'internal_error'; message: string; name: string; detail?: string };
      cancelled: boolean;
      engine: boolean;
    };
