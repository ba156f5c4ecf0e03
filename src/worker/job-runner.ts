import { DelayedError, type Job as BullJob, UnrecoverableError } from 'bullmq';
import type { Config } from '../config.js';
import { FencedOutError, type NewEvent } from '../jobs/events.js';
import type { Logger } from '../log.js';
import type { EngineEvent } from '../ml/events.js';
import type { TrainJobData } from '../queue/queue.js';
import type { AttemptStore, StartedAttempt } from './attempt-store.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import type { ChildMessage } from './protocol.js';
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
    const started = await attempts.start(jobId);
    if (started.kind !== 'started') {
      log.info({ result: started }, 'nothing to run');
      if (started.kind === 'cancelled') await this.deps.onTerminal(jobId);
      return;
    }
    const { run } = started;
    const checkpoint = await attempts.latestCheckpoint(jobId);
    const resources = await attempts.resources(run);
    log.info({ attempt: run.attempt, resumeFrom: checkpoint?.seq ?? null }, 'attempt started');

    const child: TrainingChild = new TrainingChild(
      {
        type: 'start',
        jobId,
        attempt: run.attempt,
        spec: run.spec,
        backend: config.TRAINING_BACKEND,
        artifactDir: config.ARTIFACT_DIR,
        checkpointKey: checkpoint?.storageKey,
        checkpointSeq: checkpoint?.seq ?? 0,
        resources,
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

  /** One message from the child, written to Postgres before the next is handled. */
  private async record(jobId: string, run: StartedAttempt, message: ChildMessage, child: TrainingChild, log: Logger): Promise<void> {
    try {
      if (message.type === 'ready') {
        await this.deps.attempts.events(jobId, run.attempt, [{ type: 'log', data: { level: 'info', message: `training on ${message.backend.name}`, backend: message.backend } }], { backend: message.backend.name });
      } else if (message.type === 'memory') {
        this.deps.metrics.tensors.set({ job: jobId }, message.tensors);
        this.deps.metrics.tensorBytes.set({ job: jobId }, message.bytes);
      } else if (message.type === 'event') {
        this.observe(jobId, message.event);
        const [event, update] = toJobEvent(message.event);
        if (event) await this.deps.attempts.events(jobId, run.attempt, [event], update);
      } else if (message.type === 'checkpoint') {
        await this.deps.attempts.saveCheckpoint(jobId, run.attempt, message);
        child.send({ type: 'checkpoint-saved', seq: message.seq });
      }
    } catch (err) {
      if (err instanceof FencedOutError) {
        log.warn('a newer attempt took over: stopping this one');
        child.abort('fenced');
      } else {
        log.error({ err }, 'could not record a training message');
        // Postgres is unreachable: without a record of progress the attempt is not worth continuing.
        child.abort('shutdown');
      }
    }
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
    const { attempts } = this.deps;
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
        await attempts.finish(jobId, run.attempt, 'failed', { code: 'timeout', message: `the job ran longer than max_runtime_seconds (${run.maxRuntimeSeconds})` });
      } else if (reason === 'shutdown' && this.shuttingDown) {
        await attempts.requeue(jobId, run.attempt, 'worker_shutdown');
        // Back to the queue at once, without using up an attempt: another worker resumes it.
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      } else if (outcome.type === 'failed' && outcome.engine) {
        // Bad data or spec: another attempt would fail the same way.
        await attempts.finish(jobId, run.attempt, 'failed', { code: outcome.error.code, message: outcome.error.message });
        await this.deps.onTerminal(jobId);
        throw new UnrecoverableError(outcome.error.message);
      } else {
        const error = outcome.type === 'failed'
          ? { code: 'internal_error', message: outcome.error.message }
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
      if (err instanceof FencedOutError) return;
      throw err;
    }
    await this.deps.onTerminal(jobId);
  }
}

/** Engine events become job events; progress and phase also update the job row. */
function toJobEvent(event: EngineEvent): [NewEvent | undefined, Record<string, unknown> | undefined] {
  switch (event.type) {
    case 'phase':
      return [{ type: 'phase', data: { phase: event.phase } }, { phase: event.phase, progress: event.progress }];
    case 'metrics':
    case 'epoch': {
      const { type, ...data } = event;
      return [{ type, data }, { progress: event.progress }];
    }
    case 'log':
      return [{ type: 'log', data: { level: event.level, message: event.message } }, undefined];
    default:
      // The engine's own checkpoint events are recorded when the checkpoint row is written.
      return [undefined, undefined];
  }
}
