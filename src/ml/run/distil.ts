/**
 * Stage 4, distil: the teachers' soft targets (cached once for all epochs unless too big, then computed
 * per batch), the distillation objective, and the student trained on it. A checkpoint past this phase
 * gives the distilled student's weights back instead.
 */
import { buildObjective, buildTargets, Projections } from '../distill/setup.js';
import { readModelWeights, writeModelWeights } from '../train/state.js';
import { softTargetKeyOf } from './keys.js';
import type { PreparedJob } from './prepare.js';
import type { RunState } from './state.js';
import { trainPhase } from './train-phase.js';

export async function distil(run: RunState, job: PreparedJob): Promise<void> {
  const { resolved, owner, clock } = run;
  const { teachers, student, plan } = job;
  run.softTargetKey = softTargetKeyOf(
    resolved,
    teachers.map((t) => t.built.inputShape),
    plan.needs,
    teachers.flatMap((t) => readModelWeights(t.built.model)),
  );
  const status = run.resume.statusOf('distilling');
  if (status === 'done') {
    writeModelWeights(student.model, run.resume.checkpoint!.student_weights ?? []);
    return;
  }
  const inputs = teachers.map((t, k) => ({ model: t.built.model, x: job.teacherX[k]!.train }));
  // Once per (teachers, data) unless too big: every distillation epoch then runs the student only.
  if (!job.perBatch) clock.enter('computing_soft_targets');
  const targets = owner.own(await buildTargets(plan, inputs, (f) => clock.progress.set(f)));
  const projections = plan.projections.length > 0 ? owner.own(new Projections(plan.projections, resolved.seed)) : undefined;
  const objective = buildObjective(resolved.distillation, plan, student.model, resolved.student.training.epochs, targets, projections);
  clock.enter('distilling');
  await trainPhase(run, job, {
    phase: 'distilling',
    role: 'student',
    built: student,
    training: resolved.student.training,
    x: job.studentX,
    status,
    stream: 'student',
    historyKey: 'student',
    progress: clock.progress,
    objective,
    ...(projections ? { projections } : {}),
  });
}
