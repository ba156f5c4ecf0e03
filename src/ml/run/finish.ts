/**
 * Stage 7, finish: every model serialized, the report assembled, and the outcome the caller stores:
 * the report and the models this job trained, by their engine names.
 */
import { computeOf } from '../backend/index.js';
import { distillationReport } from '../distill/setup.js';
import { exportJobModels } from '../export/for-job.js';
import { assembleReport, saveAll } from '../job-report.js';
import { teacherKey } from '../spec.js';
import type { JobOutcome } from './context.js';
import type { Evaluation } from './evaluate.js';
import type { PreparedJob } from './prepare.js';
import type { RunState } from './state.js';

export async function finish(run: RunState, job: PreparedJob, evaluation: Evaluation): Promise<JobOutcome> {
  const { clock, resolved } = run;
  const { teachers, plan } = job;
  clock.enter('saving');
  const [teacherArtifacts, studentArtifacts, baselineArtifacts] = await saveAll(evaluation.all, teachers.length);
  const exported = await exportJobModels(resolved.export, evaluation.all, teachers.length, studentArtifacts, job.split.test.y);
  clock.progress.set(1);
  clock.stop();

  const report = assembleReport({
    backend: run.backend.name,
    compute: computeOf(run.backend),
    spec: resolved,
    split: job.split,
    softTargets: plan.mode,
    teachers: evaluation.teachers,
    teacherArtifacts,
    student: evaluation.student,
    studentArtifacts,
    ...(evaluation.baseline && baselineArtifacts ? { baseline: { evaluated: evaluation.baseline, artifacts: baselineArtifacts } } : {}),
    ...(evaluation.ensemble ? { ensemble: evaluation.ensemble } : {}),
    ...(job.extended ? { distillation: distillationReport(resolved.distillation, plan, teachers.length, run.distillHistory) } : {}),
    timings: clock.timings,
    elapsedSeconds: clock.elapsedSeconds(run.resume.checkpoint?.elapsed_seconds),
  });
  if (exported) report.exports = exported.report;
  return {
    report,
    models: {
      student: studentArtifacts,
      ...Object.fromEntries(teachers.flatMap((t, k) => (t.training ? [[teacherKey(k), teacherArtifacts[k]!]] : []))),
      ...(baselineArtifacts ? { baseline: baselineArtifacts } : {}),
    },
    ...(exported ? { exports: exported.files } : {}),
  };
}
