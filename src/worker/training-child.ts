import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AbortReason, ChildMessage, ParentMessage } from './protocol.js';

// child.ts under tsx, child.js once built: the same extension as this file.
const CHILD_ENTRY = fileURLToPath(new URL(`./child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
/** How long a child may take to stop after being asked before it is killed. */
const STOP_GRACE_MS = 15_000;
/** The end of the child's stderr kept to tell why it crashed. */
const STDERR_TAIL = 4096;
/** What V8 prints when the capped heap is full (then it aborts the process). */
const V8_OUT_OF_MEMORY = /heap out of memory|Reached heap limit|Allocation failed - JavaScript heap/;

export type ChildOutcome =
  | Extract<ChildMessage, { type: 'done' }>
  | Extract<ChildMessage, { type: 'failed' }>
  | { type: 'crashed'; code: number | null; signal: NodeJS.Signals | null };

/**
 * One training child process for one attempt. Messages arrive in order through `onMessage`, and the
 * returned promise resolves with how the child ended: done, failed (it said why), or crashed.
 */
export class TrainingChild {
  readonly process: ChildProcess;
  abortReason: AbortReason | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  readonly outcome: Promise<ChildOutcome>;

  constructor(start: Extract<ParentMessage, { type: 'start' }>, onMessage: (m: ChildMessage) => Promise<void>) {
    // 'advanced' serialization carries typed arrays and Buffers without JSON. The V8 heap is capped at
    // the budget: a job past it ends this process, never the worker.
    this.process = fork(CHILD_ENTRY, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      execArgv: [...process.execArgv.filter((a) => !a.startsWith('--max-old-space-size')), `--max-old-space-size=${start.memoryBudgetMb}`],
    });
    let stderrTail = '';
    this.process.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    let last: ChildOutcome | undefined;
    // Handled one at a time, in order: a checkpoint row is written before the next epoch's events.
    let chain = Promise.resolve();
    this.outcome = new Promise((resolve) => {
      this.process.on('message', (message: ChildMessage) => {
        if (message.type === 'listening') {
          this.send(start);
          if (this.abortReason) this.send({ type: 'abort', reason: this.abortReason });
          return;
        }
        if (message.type === 'done' || message.type === 'failed') last = message;
        chain = chain.then(() => onMessage(message)).catch(() => {});
      });
      this.process.on('exit', (code, signal) => {
        clearTimeout(this.killTimer);
        chain.then(() =>
          resolve(last ?? (V8_OUT_OF_MEMORY.test(stderrTail) ? heapExhausted(start.memoryBudgetMb, stderrTail) : { type: 'crashed', code, signal })),
        );
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  send(message: ParentMessage): void {
    if (this.process.connected) this.process.send(message);
  }

  /** Asks the child to stop between two batches; kills it if it has not within the grace period. */
  abort(reason: AbortReason): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.send({ type: 'abort', reason });
    this.killTimer = setTimeout(() => this.process.kill('SIGKILL'), STOP_GRACE_MS);
    this.killTimer.unref();
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }
}

/** V8 ran out of its capped heap: the job's size, so a failure of the job (not retried), not a crash. */
function heapExhausted(budgetMb: number, stderrTail: string): ChildOutcome {
  return {
    type: 'failed',
    error: {
      code: 'memory_limit_exceeded',
      message: `the training process ran out of its ${budgetMb} MiB heap (WORKER_MEMORY_BUDGET_MB); use fewer or smaller samples, models or batches`,
      name: 'MemoryLimitError',
      detail: stderrTail,
    },
    cancelled: false,
    engine: true,
  };
}
