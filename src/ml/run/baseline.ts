/**
 * Stage 5, baseline (when the spec asks for it): the student's architecture trained on the labels alone,
 * from the same seed, so the report can say what distillation bought.
 */
import { buildFromSpec, type BuiltModel } from '../job-setup.js';
import { throwIfAborted } from '../train/fit.js';
import { readModelWeights } from '../train/state.js';
import type { PreparedJob } from './prepare.js';
import type { RunState } from './state.js';
import { trainPhase } from './train-phase.js';

export async function trainBaseline(run: RunState, job: PreparedJob): Promise<BuiltModel | undefined> {
  const { resolved, ctx, clock } = run;
  let baseline: BuiltModel | undefined;
  if (resolved.distillation.baseline) {
    if (ctx.onCheckpoint) run.studentWeights = readModelWeights(job.student.model);
    baseline = run.owner.ownModel(buildFromSpec(resolved.student.model, job.split, 'baseline', resolved.seed, 'student'));
    clock.enter('training_baseline');
    await trainPhase(run, job, {
      phase: 'training_baseline',
      role: 'baseline',
      built: baseline,
      training: resolved.student.training,
      x: job.studentX,
      status: run.resume.statusOf('training_baseline') === 'resume' ? 'resume' : 'run',
      stream: 'student',
      historyKey: 'baseline',
      progress: clock.progress,
    });
  }
  throwIfAborted(ctx.signal);
  return baseline;
}
