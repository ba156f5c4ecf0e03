/**
 * Stage 1, the resume plan: which training phases a checkpoint puts behind the job ('done'), which one
 * it continues ('resume'), and which run from the start ('run'). Without a checkpoint everything runs.
 */
import { CheckpointError, type Checkpoint } from '../checkpoint.js';
import type { Phase, TrainingPhase } from '../events.js';

export type PhaseStatus = 'run' | 'resume' | 'done';

const TRAINING_ORDER: TrainingPhase[] = ['training_teacher', 'distilling', 'training_baseline'];

export interface ResumePlan {
  /** The checkpoint the job continues from, if any. */
  checkpoint: Checkpoint | undefined;
  statusOf(phase: TrainingPhase): PhaseStatus;
  /** Teacher k (trained teachers are trained in order, one after the other). */
  teacherStatus(k: number): PhaseStatus;
  /** Phases that count as done in the job's progress (their share of percent and ETA is already behind it). */
  skippedPhases(perBatchTargets: boolean): Phase[];
}

export function planResume(checkpoint: Checkpoint | undefined, specKey: string): ResumePlan {
  if (checkpoint && checkpoint.spec_key !== specKey) throw new CheckpointError('the checkpoint was taken by a job with a different spec');
  const resumeAt = checkpoint ? TRAINING_ORDER.indexOf(checkpoint.phase) : -1;
  const statusOf = (p: TrainingPhase): PhaseStatus =>
    resumeAt < 0 || TRAINING_ORDER.indexOf(p) > resumeAt ? 'run' : TRAINING_ORDER.indexOf(p) < resumeAt ? 'done' : 'resume';
  return {
    checkpoint,
    statusOf,
    teacherStatus(k) {
      const s = statusOf('training_teacher');
      const at = checkpoint?.teacher_index ?? 0;
      return s !== 'resume' ? s : k < at ? 'done' : k === at ? 'resume' : 'run';
    },
    skippedPhases(perBatchTargets) {
      if (resumeAt < 0) return [];
      const done = TRAINING_ORDER.filter((p) => statusOf(p) === 'done');
      // Soft targets are cached before distilling starts: a job past its teachers has them behind it too.
      return ['preparing_data', ...done, ...(resumeAt >= 1 && !perBatchTargets ? (['computing_soft_targets'] as Phase[]) : [])];
    },
  };
}
