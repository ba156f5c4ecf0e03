/**
 * Stage 2, prepare: the dataset loaded and split, the spec checked against what the data turned out to
 * be, the splits as tensors at each model's input shape, the teachers (built or given) and the student,
 * the distillation planned, and the job's progress weighted by what each phase will cost.
 */
import { type DatasetResolver, loadDataset } from '../data/load.js';
import { splitDataset } from '../data/prepare.js';
import type { SplitDataset } from '../data/types.js';
import { planDistillation, type DistillationPlan } from '../distill/setup.js';
import { SpecError } from '../errors.js';
import type { Phase } from '../events.js';
import { buildJobModels, phaseWeights, splitTensors, tensorsFor, type BuiltModel, type JobTeacher, type SplitTensors } from '../job-setup.js';
import { ProgressTracker } from '../progress.js';
import { checkSpec } from '../spec-check.js';
import type { ResolvedSpec } from '../spec.js';
import { usesExtendedDistillation } from '../spec-distillation.js';
import { yieldToEventLoop } from '../train/fit.js';
import type { RunState } from './state.js';

export interface PreparedJob {
  split: SplitDataset;
  /** The splits at the dataset's own shape, and their labels. */
  base: ReturnType<typeof splitTensors>;
  teachers: JobTeacher[];
  student: BuiltModel;
  /** Teacher k's splits at its input shape. */
  teacherX: SplitTensors[];
  studentX: SplitTensors;
  plan: DistillationPlan;
  /** Teacher outputs computed per batch instead of cached (too big to cache). */
  perBatch: boolean;
  /** Each trained teacher's part of the teacher phase's progress. */
  teacherShares: Array<{ offset: number; share: number }>;
  /** Hint, attention or several teachers: the report and checkpoints carry the distillation terms. */
  extended: boolean;
}

/** The job's dataset, split as its spec says: the same spec (its seed) splits the same way every time. */
export async function loadSplit(resolved: ResolvedSpec, resolveDataset: DatasetResolver | undefined): Promise<SplitDataset> {
  const dataset = await loadDataset(resolved.dataset, resolveDataset);
  await yieldToEventLoop();
  return splitDataset(dataset, {
    seed: resolved.seed,
    validationFraction: resolved.dataset.validation_fraction,
    testFraction: resolved.dataset.test_fraction,
    ...(resolved.dataset.limit ? { limit: resolved.dataset.limit } : {}),
  });
}

export async function prepare(run: RunState): Promise<PreparedJob> {
  const { resolved, owner, ctx } = run;
  run.clock.enter('preparing_data');
  const split = await loadSplit(resolved, ctx.resolveDataset);
  const known = checkSpec(run.spec, { classes: split.classNames.length, inputShape: split.shape });
  if (known.length > 0) throw new SpecError(known);
  await yieldToEventLoop();
  const base = splitTensors(split, owner);
  const { teachers, student } = await buildJobModels(resolved, split, owner, ctx.resolveModel);
  await yieldToEventLoop();
  const teacherX = teachers.map((t) => t.precomputed ?? tensorsFor(base.x, t.built.inputShape, owner));
  const studentX = tensorsFor(base.x, student.inputShape, owner);
  const plan = planDistillation(
    resolved.distillation,
    student.model,
    teachers.map((t) => t.built.model),
    split.train.y.length,
    split.classNames.length,
  );
  if (plan.note) run.log(plan.note);
  const perBatch = plan.mode === 'per_batch';
  const { weights, teacherShares } = phaseWeights(resolved, teachers, student, split, perBatch);
  run.clock.progress = new ProgressTracker(Object.entries(weights) as Array<[Phase, number]>, run.resume.skippedPhases(perBatch));
  run.clock.progress.enter('preparing_data');
  run.clock.progress.set(1);
  const extended = usesExtendedDistillation(resolved.distillation, teachers.length);
  return { split, base, teachers, student, teacherX, studentX, plan, perBatch, teacherShares, extended };
}
