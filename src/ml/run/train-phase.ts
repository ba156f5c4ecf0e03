/**
 * One model trained for one phase (a teacher, the distilled student, the baseline), from scratch or from
 * the checkpoint, with a checkpoint after every epoch. The teacher, distil and baseline stages call it.
 */
import type { DistillObjective } from '../distill/objective.js';
import type { Projections } from '../distill/setup.js';
import type { ModelRole, TrainingPhase } from '../events.js';
import type { BuiltModel, SplitTensors } from '../job-setup.js';
import type { PhaseProgress } from '../progress.js';
import type { ResolvedTraining } from '../spec.js';
import { fit } from '../train/fit.js';
import { disposeOptimizer, makeOptimizer, readModelWeights, readOptimizerState, writeModelWeights, writeOptimizerState } from '../train/state.js';
import type { PreparedJob } from './prepare.js';
import type { RunState } from './state.js';

export interface PhaseRun {
  phase: TrainingPhase;
  role: ModelRole;
  built: BuiltModel;
  training: ResolvedTraining;
  x: SplitTensors;
  status: 'run' | 'resume';
  /** Random stream (shuffles, dropout) and history entry. */
  stream: string;
  historyKey: string;
  progress: PhaseProgress;
  teacherIndex?: number;
  objective?: DistillObjective;
  projections?: Projections;
}

export async function trainPhase(run: RunState, job: PreparedJob, r: PhaseRun): Promise<void> {
  const { ctx, resolved, history, distillHistory } = run;
  const resume = run.resume.checkpoint;
  const optimizer = makeOptimizer(r.training);
  run.owner.own({ dispose: () => disposeOptimizer(optimizer) });
  let startEpoch = 0;
  if (r.status === 'resume') {
    writeModelWeights(r.built.model, resume!.weights);
    r.projections?.write(resume!.projection_weights ?? []);
    await writeOptimizerState(optimizer, resume!.optimizer);
    startEpoch = resume!.epoch;
    run.log(`resuming ${r.phase}${r.teacherIndex !== undefined ? ` (teacher ${r.teacherIndex})` : ''} after epoch ${startEpoch}`);
  }
  const steps = Math.ceil(job.split.train.y.length / r.training.batch_size);
  history[r.historyKey] = history[r.historyKey]?.slice(0, startEpoch) ?? [];
  if (r.objective) distillHistory.splice(startEpoch);
  await fit(
    {
      role: r.role,
      phase: r.phase,
      model: r.built.model,
      optimizer,
      learningRate: r.training.learning_rate,
      train: { x: r.x.train, y: job.base.y.train },
      validation: { x: r.x.validation, y: job.base.y.validation },
      ...(r.objective ? { distill: r.objective } : {}),
      epochs: r.training.epochs,
      batchSize: r.training.batch_size,
      startEpoch,
      seed: resolved.seed,
      randomStream: r.stream,
    },
    {
      emit: ctx.onEvent,
      progress: r.progress,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.metricsEvery ? { metricsEvery: ctx.metricsEvery } : {}),
      afterEpoch: async (epoch, summary, terms) => {
        history[r.historyKey]!.push(summary);
        if (terms) distillHistory.push(terms);
        if (!ctx.onCheckpoint) return;
        await ctx.onCheckpoint({
          version: 1,
          spec_key: run.specKey,
          phase: r.phase,
          model: r.role,
          epoch,
          step: epoch * steps,
          rng: { seed: resolved.seed, algorithm: 'derived-mulberry32' },
          soft_target_key: run.softTargetKey,
          teacher_weights: run.finishedTeachers.length > 0 ? [...run.finishedTeachers] : null,
          student_weights: r.phase === 'training_baseline' ? run.studentWeights : null,
          ...(r.teacherIndex !== undefined ? { teacher_index: r.teacherIndex } : {}),
          weights: readModelWeights(r.built.model),
          optimizer: await readOptimizerState(optimizer),
          ...(r.projections ? { projection_weights: r.projections.read() } : {}),
          ...(r.objective && job.extended ? { distillation_history: structuredClone(distillHistory) } : {}),
          history: structuredClone(history),
          elapsed_seconds: run.clock.elapsedSeconds(resume?.elapsed_seconds),
        });
        ctx.onEvent({ type: 'checkpoint', phase: r.phase, model: r.role, epoch });
      },
    },
  );
}
