/**
 * Stage 6, evaluate: every model (teachers, student, baseline) scored on the test split and timed, and
 * with several teachers their weighted ensemble's predictions.
 */
import { ensemblePredictions, evaluateAll, type Evaluated } from '../job-report.js';
import type { BuiltModel, SplitTensors } from '../job-setup.js';
import { teacherKey } from '../spec.js';
import type { PreparedJob } from './prepare.js';
import type { RunState } from './state.js';

export interface Evaluation {
  /** Teachers, student, baseline: in this order, as saveAll expects. */
  all: Evaluated[];
  teachers: Evaluated[];
  student: Evaluated;
  baseline: Evaluated | undefined;
  ensemble?: { predictions: Int32Array; weights: number[]; labels: Int32Array };
}

export async function evaluate(run: RunState, job: PreparedJob, baseline: BuiltModel | undefined): Promise<Evaluation> {
  const { clock, history } = run;
  const { teachers, split, plan } = job;
  clock.enter('evaluating');
  const under = (built: BuiltModel, x: SplitTensors, key: string, origin: 'trained' | 'given' = 'trained') => ({
    built,
    x: x.test,
    origin,
    history: history[key] ?? [],
  });
  const models = [
    ...teachers.map((t, k) => under(t.built, job.teacherX[k]!, teacherKey(k), t.training ? 'trained' : 'given')),
    under(job.student, job.studentX, 'student'),
    ...(baseline ? [under(baseline, job.studentX, 'baseline')] : []),
  ];
  const all = await evaluateAll(models, job.base.y.test, split.classNames, () => clock.progress.set(0.3));
  const evaluatedTeachers = all.slice(0, teachers.length);
  const ensemble =
    teachers.length > 1
      ? { predictions: await ensemblePredictions(evaluatedTeachers, plan.teacherWeights), weights: plan.teacherWeights, labels: split.test.y }
      : undefined;
  return { all, teachers: evaluatedTeachers, student: all[teachers.length]!, baseline: all[teachers.length + 1], ...(ensemble ? { ensemble } : {}) };
}
