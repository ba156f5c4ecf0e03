import { DelayedError, type Job as BullJob, UnrecoverableError } from 'bullmq';
import type { Config } from '../config.js';
import { FencedOutError, type NewEvent } from '../jobs/events.js';
import type { Logger } from '../log.js';
import type { EngineEvent } from '../ml/tfjs-free.js';
import type { TrainJobData } from '../queue/queue.js';
import { retryDbWrite } from '../db/retry.js';
import { engineFailureCode } from '../jobs/job-errors.js';
import { isTerminal, type JobError } from '../jobs/status.js';
import type { AttemptStore, StartedAttempt } from './attempt-store.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { storeLocation } from '../storage/artifact-store.js';
import type { ChildMessage } from './protocol.js';
import { looksInternal, publicJobError } from './public-error.js';
import { type ChildOutcome, TrainingChild } from './training-child.js';

/** How often a running attempt re-reads its status: the backstop when a cancel message is missed. */
const STATUS_POLL_MS = 2000;

export interface RunnerDeps {
  config: Config;
  log: Logger;
  metrics: WorkerMetrics;
  attempts: AttemptStore;
  /** Reads the job's status (cancel backstop). */
  readStatus(jobId: string): Promise<string | undefined>;
  /** Called once a job reached a terminal state (webhooks). */
  onTerminal(jobId: string): Promise<void>;
}

/**
 * The BullMQ processor: one attempt of one job. Claims the attempt in Postgres, resumes from the
 * latest checkpoint in a fresh child process, records what the child reports, and ends the attempt
 * as BullMQ expects: return (done), UnrecoverableError (never retry), DelayedError (back to the
 * queue without using an attempt), or an Error (retry with backoff).
 */
export class JobRunner {
  private readonly running = new Map<string, TrainingChild>();
  /** When each running job entered its current phase, for the phase-duration histogram. */
  private readonly phaseStarted = new Map<string, { phase: string; at: number }>();
  /** The tfjs tensor count each running child reported last. */
  private readonly tensors = new Map<string, number>();
  private shuttingDown = false;

  constructor(private readonly deps: RunnerDeps) {}

  /** Cancel requested through the API (pub/sub), for a job this worker runs. */
  cancel(jobId: string): void {
    this.running.get(jobId)?.abort('cancel');
  }

  /** SIGTERM: every running attempt stops between batches and goes back to the queue. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const child of this.running.values()) child.abort('shutdown');
  }

  get activeJobs(): string[] {
    return [...this.running.keys()];
  }

  process = async (job: BullJob<TrainJobData>, token?: string): Promise<void> => {
    const { jobId } = job.data;
    const { attempts, log: baseLog, config } = this.deps;
    const log = baseLog.child({ jobId });
    // Reads and the claim wait out a Postgres restart too, rather than spend BullMQ attempts on it.
    const started = await this.persist(log, () => attempts.start(jobId));
    if (started.kind !== 'started') {
      log.info({ result: started }, 'nothing to run');
      if (started.kind === 'cancelled') await this.deps.onTerminal(jobId);
      return;
    }
    const { run } = started;
    const checkpoint = await this.persist(log, () => attempts.latestCheckpoint(jobId));
    const resources = await this.persist(log, () => attempts.resources(run));
    log.info({ attempt: run.attempt, resumeFrom: checkpoint?.seq ?? null }, 'attempt started');

    const child: TrainingChild = new TrainingChild(
      {
        type: 'start',
        jobId,
        attempt: run.attempt,
        spec: run.spec,
        backend: config.TRAINING_BACKEND,
        artifactDir: storeLocation(config),
        checkpointKey: checkpoint?.storageKey,
        checkpointSeq: checkpoint?.seq ?? 0,
        resources,
        memoryBudgetMb: config.WORKER_MEMORY_BUDGET_MB,
      },
      (message): Promise<void> => this.record(jobId, run, message, child, log),
    );
    this.running.set(jobId, child);
    this.deps.metrics.activeJobs.set(this.running.size);
    log.info({ attempt: run.attempt, childPid: child.pid }, 'training child started');
    const timers = this.watch(jobId, run, child);
    let outcome: ChildOutcome;
    try {
      outcome = await child.outcome;
    } finally {
      timers.forEach(clearInterval);
      this.running.delete(jobId);
      this.deps.metrics.activeJobs.set(this.running.size);
      this.deps.metrics.tensors.remove({ job: jobId });
      this.deps.metrics.tensorBytes.remove({ job: jobId });
      this.phaseStarted.delete(jobId);
    }
    log.info({ attempt: run.attempt, outcome: outcome.type, abortReason: child.abortReason, tensors: this.tensors.get(jobId) }, 'training child ended');
    // The raw error, stack and all, is for this log only; clients get publicJobError's code and message.
    if (outcome.type === 'failed' && !outcome.cancelled)
      log.warn({ attempt: run.attempt, code: outcome.error.code, error: outcome.error.detail ?? outcome.error.message }, 'attempt failed');
    this.tensors.delete(jobId);
    this.deps.metrics.attempts.inc({ outcome: child.abortReason ?? outcome.type });
    await this.conclude(job, token, jobId, run, child, outcome, log);
  };

  private watch(jobId: string, run: StartedAttempt, child: TrainingChild): NodeJS.Timeout[] {
    const timers: NodeJS.Timeout[] = [];
    timers.push(
      setInterval(() => {
        this.deps.readStatus(jobId).then(
          (status) => status === 'cancelling' && child.abort('cancel'),
          () => {},
        );
      }, STATUS_POLL_MS),
    );
    if (run.maxRuntimeSeconds) {
      const deadline = run.startedAt.getTime() + run.maxRuntimeSeconds * 1000;
      const timer = setTimeout(() => child.abort('timeout'), Math.max(0, deadline - Date.now()));
      timers.push(timer);
    }
    return timers;
  }

  /**
   * One message from the child, written to Postgres before the next is handled. A write that fails
   * because Postgres is away is retried for up to DB_RETRY_SECONDS (the child trains on, and waits at
   * its next checkpoint for the acknowledgement); only then is the attempt given up.
   */
  private async record(jobId: string, run: StartedAttempt, message: ChildMessage, child: TrainingChild, log: Logger): Promise<void> {
    const { attempts } = this.deps;
    try {
      if (message.type === 'ready') {
        const backend = message.backend;
        // `skipped` says why better backends did not load in words for people (no module paths).
        await this.persist(log, () =>
          attempts.events(jobId, run.attempt, [{ type: 'log', data: { level: 'info', message: `training on ${backend.name}`, backend } }], {
            backend: backend.name,
          }),
        );
      } else if (message.type === 'memory') {
        this.tensors.set(jobId, message.tensors);
        this.deps.metrics.tensors.set({ job: jobId }, message.tensors);
        this.deps.metrics.tensorBytes.set({ job: jobId }, message.bytes);
      } else if (message.type === 'event') {
        this.observe(jobId, message.event);
        const [event, update] = toJobEvent(message.event);
        if (event) await this.persist(log, () => attempts.events(jobId, run.attempt, [event], update));
      } else if (message.type === 'checkpoint') {
        await this.persist(log, () => attempts.saveCheckpoint(jobId, run.attempt, message));
        child.send({ type: 'checkpoint-saved', seq: message.seq });
        // Only now, with the new checkpoint and its row durable, do the older ones go (the child trains on meanwhile).
        await attempts.pruneCheckpoints(jobId, message.seq).catch((err) => log.warn({ err: (err as Error).message }, 'older checkpoints not removed yet'));
      }
    } catch (err) {
      if (err instanceof FencedOutError) {
        log.warn('a newer attempt took over, or the job ended: stopping this one');
        child.abort('fenced');
        if (message.type === 'checkpoint') await attempts.discardCheckpointFile(message.key);
      } else {
        log.error({ err }, 'could not record a training message');
        child.abort('database');
      }
    }
  }

  /** A Postgres write of this worker, retried while the database is unreachable (see db/retry.ts). */
  private persist<T>(log: Logger, write: () => Promise<T>): Promise<T> {
    return retryDbWrite(write, {
      budgetMs: this.deps.config.DB_RETRY_SECONDS * 1000,
      onRetry: (err, attempt, delayMs) => log.warn({ err: String(err).split('\n')[0], attempt, delayMs }, 'database write failed: retrying'),
    });
  }

  /** The attempt store's ending writes, each retried like `persist`. */
  private retrying(log: Logger): Pick<AttemptStore, 'succeed' | 'finish' | 'requeue'> {
    const { attempts } = this.deps;
    return {
      succeed: (...args) => this.persist(log, () => attempts.succeed(...args)),
      finish: (...args) => this.persist(log, () => attempts.finish(...args)),
      requeue: (...args) => this.persist(log, () => attempts.requeue(...args)),
    };
  }

  private observe(jobId: string, event: EngineEvent): void {
    if (event.type === 'phase') {
      const previous = this.phaseStarted.get(jobId);
      if (previous) this.deps.metrics.phaseDuration.observe({ phase: previous.phase }, (Date.now() - previous.at) / 1000);
      this.phaseStarted.set(jobId, { phase: event.phase, at: Date.now() });
    } else if (event.type === 'metrics') {
      this.deps.metrics.samplesPerSecond.set({ model: event.model }, event.samples_per_second);
    }
  }

  private async conclude(
    job: BullJob<TrainJobData>,
    token: string | undefined,
    jobId: string,
    run: StartedAttempt,
    child: TrainingChild,
    outcome: ChildOutcome,
    log: Logger,
  ): Promise<void> {
    const attempts = this.retrying(log);
    const reason = child.abortReason;
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      if (outcome.type === 'done' && !reason) {
        await attempts.succeed(jobId, run.attempt, outcome.report, outcome.files, outcome.models);
        log.info({ attempt: run.attempt }, 'job succeeded');
      } else if (reason === 'fenced') {
        return;
      } else if (reason === 'cancel') {
        await attempts.finish(jobId, run.attempt, 'cancelled');
        log.info('job cancelled');
      } else if (reason === 'timeout') {
        await attempts.finish(jobId, run.attempt, 'failed', {
          code: 'timeout',
          message: `the job ran longer than max_runtime_seconds (${run.maxRuntimeSeconds})`,
        });
      } else if (reason === 'shutdown' && this.shuttingDown) {
        await attempts.requeue(jobId, run.attempt, 'worker_shutdown');
        // Back to the queue at once, without using up an attempt: another worker resumes it.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      } else if (outcome.type === 'failed' && outcome.engine && reason !== 'database') {
        // Bad data or spec, a diverged run, over the memory cap: another attempt would fail the same way.
        const error = publicJobError(engineFailureCode(outcome.error.code), outcome.error.message);
        await attempts.finish(jobId, run.attempt, 'failed', error);
        await this.deps.onTerminal(jobId);
        throw new UnrecoverableError(`${error.code}: ${error.message}`);
      } else {
        const error: JobError =
          reason === 'database'
            ? { code: 'database_unavailable', message: `the worker could not record progress for ${this.deps.config.DB_RETRY_SECONDS} s` }
            : outcome.type === 'failed'
              ? publicJobError('internal_error', outcome.error.message)
              : outcome.type === 'crashed'
                ? { code: 'worker_crashed', message: `the training process exited (${outcome.signal ?? `code ${outcome.code}`})` }
                : { code: 'worker_unavailable', message: 'the attempt stopped before it finished' };
        if (lastAttempt) {
          await attempts.finish(jobId, run.attempt, 'failed', error);
          await this.deps.onTerminal(jobId);
        } else {
          await attempts.requeue(jobId, run.attempt, 'retry', error);
        }
        throw new Error(error.message);
      }
    } catch (err) {
      if (err instanceof FencedOutError) {
        // Another attempt owns the job, or this one's end was already stored (a repeated write).
        if (isTerminal((await this.deps.readStatus(jobId).catch(() => undefined)) ?? '')) {
          // The write that ended it may have failed after its commit, before removing the checkpoints.
          await this.deps.attempts.dropCheckpoints(jobId);
          await this.deps.onTerminal(jobId);
        }
        return;
      }
      throw err;
    }
    await this.deps.onTerminal(jobId);
  }
}

/** Engine events become job events; progress and phase also update the job row. */
function toJobEvent(event: EngineEvent): [NewEvent | undefined, Record<string, unknown> | undefined] {
  switch (event.type) {
    case 'phase':
      return [
        { type: 'phase', data: { phase: event.phase } },
        { phase: event.phase, progress: event.progress },
      ];
    case 'metrics':
    case 'epoch': {
      const { type, ...data } = event;
      return [{ type, data }, { progress: event.progress }];
    }
    case 'log':
      // The engine writes its log lines for people; one that quotes a server path or a stack is not sent.
      return looksInternal(event.message) ? [undefined, undefined] : [{ type: 'log', data: { level: event.level, message: event.message } }, undefined];
    default:
      // The engine's own checkpoint events are recorded when the checkpoint row is written.
      return [undefined, undefined];
  }
}
