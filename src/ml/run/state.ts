/**
 * The state one run of a job carries from stage to stage (./run-job.ts lists the stages). Everything a
 * stage changes for a later one is a field here, named, rather than a variable shared by closures.
 */
import type { BackendInfo } from '../backend/index.js';
import type { EngineEvent, Phase } from '../events.js';
import type { TensorOwner } from '../job-setup.js';
import { ProgressTracker } from '../progress.js';
import { round } from '../report.js';
import type { EngineSpec, ResolvedSpec } from '../spec.js';
import type { EpochSummary, EpochTerms } from '../train/fit.js';
import type { StoredTensor } from '../train/state.js';
import type { RunContext } from './context.js';
import type { ResumePlan } from './resume-plan.js';

export interface RunState {
  readonly ctx: RunContext;
  /** The spec as given (checked again once the data is loaded), and with every default filled in. */
  readonly spec: EngineSpec;
  readonly resolved: ResolvedSpec;
  /** Ties checkpoints to this spec (./keys.ts). */
  readonly specKey: string;
  readonly resume: ResumePlan;
  readonly backend: BackendInfo;
  /** Every tensor and model the run creates, disposed when it ends however it ends. */
  readonly owner: TensorOwner;
  readonly clock: PhaseClock;
  /** Epoch summaries per model (teacher, teacher1…, student, baseline): checkpointed, then reported. */
  readonly history: Partial<Record<string, EpochSummary[]>>;
  /** Per-epoch terms of the extended distillation methods: checkpointed, then reported. */
  readonly distillHistory: EpochTerms[];
  /** Weights of the trained teachers finished so far, concatenated in teacher order (for checkpoints). */
  readonly finishedTeachers: StoredTensor[];
  /** The distilled student's weights, for the baseline phase's checkpoints (set by the baseline stage). */
  studentWeights: StoredTensor[] | null;
  /** Identifies the soft targets once the teachers are final (set by the distil stage). */
  softTargetKey: string | null;
  log(message: string): void;
}

/**
 * Phases as the job's events see them: entering one emits a phase event with the job's progress, and
 * closes the previous one's timing. The progress tracker starts with one phase (preparing data) and is
 * replaced once the data and models tell what each phase costs.
 */
export class PhaseClock {
  readonly timings: Record<string, number> = {};
  progress = new ProgressTracker([['preparing_data', 1]]);
  private readonly jobStart = performance.now();
  private phaseStart = performance.now();
  private current: Phase | undefined;

  constructor(private readonly emit: (e: EngineEvent) => void) {}

  get phase(): Phase | undefined {
    return this.current;
  }

  enter(phase: Phase): void {
    if (this.current) this.timings[this.current] = round((performance.now() - this.phaseStart) / 1000, 3);
    this.current = phase;
    this.phaseStart = performance.now();
    this.progress.enter(phase);
    this.emit({ type: 'phase', phase, progress: this.progress.snapshot() });
  }

  /** Closes the last phase's timing (no phase follows it). */
  stop(): void {
    if (this.current) this.timings[this.current] = round((performance.now() - this.phaseStart) / 1000, 3);
  }

  /** Seconds the job has run, counting the attempts before a resume. */
  elapsedSeconds(before = 0): number {
    return round(before + (performance.now() - this.jobStart) / 1000, 3);
  }
}
