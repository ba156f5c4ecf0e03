/**
 * One distillation job, start to finish: prepare data, train or load the teachers, compute their
 * targets, distil the student, optionally train the baseline, evaluate, serialize. Progress goes out
 * as events; each epoch ends in a checkpoint the caller persists; an aborted signal stops the job
 * between two batches. Nothing here knows about HTTP, queues or databases.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendChoice } from './backend/index.js';
import { CheckpointError, type Checkpoint } from './checkpoint.js';
import { loadDataset } from './data/load.js';
import { splitDataset } from './data/prepare.js';
import type { Dataset } from './data/types.js';
import type { DistillObjective } from './distill/objective.js';
import { buildObjective, buildTargets, distillationReport, planDistillation, Projections } from './distill/setup.js';
import { SpecError } from './errors.js';
import type { EngineEvent, ModelRole, Phase, TrainingPhase } from './events.js';
import { assembleReport, ensemblePredictions, evaluateAll, saveAll } from './job-report.js';
import { buildFromSpec, buildJobModels, phaseWeights, splitTensors, tensorsFor, TensorOwner, type BuiltModel, type SplitTensors } from './job-setup.js';
import type { ModelArtifacts } from './models/serialize.js';
import { ProgressTracker, type PhaseProgress } from './progress.js';
import { round, type Report } from './report.js';
import { checkSpec, teacherKey, withDefaults, type EngineSpec, type ResolvedTraining } from './spec.js';
import { usesExtendedDistillation } from './spec-distillation.js';
import { fit, throwIfAborted, yieldToEventLoop, type EpochSummary, type EpochTerms } from './train/fit.js';
import { disposeOptimizer, makeOptimizer, readModelWeights, readOptimizerState, writeModelWeights, writeOptimizerState, type StoredTensor } from './train/state.js';

export interface RunContext {
  onEvent(e: EngineEvent): void;
  /** Aborting stops training between two batches; runJob then throws JobCancelledError. */
  signal?: AbortSignal;
  /** A checkpoint of this same spec: finished phases are not rerun, the current one continues. */
  resumeFrom?: Checkpoint;
  /** Awaited after every epoch: persist the checkpoint before training goes on. */
  onCheckpoint?(c: Checkpoint): Promise<void>;
  /** Uploaded datasets (ds_…). */
  resolveDataset?(id: string): Promise<Dataset>;
  /** Stored models (mdl_…) used as teachers. */
  resolveModel?(id: string): Promise<ModelArtifacts>;
  /** Default auto: the best backend that loads (the first call in a process decides). */
  backend?: BackendChoice;
  /** Emit a metrics event every N steps. Default: about four per epoch, at most every 50 steps. */
  metricsEvery?: number;
}

export interface JobOutcome {
  report: Report;
  /**
   * Every model this job trained, by its engine name: `teacher` (the first teacher), `teacher1`,
   * `teacher2`… (further teachers), each only when trained here; `student`; `baseline` when asked for.
   */
  models: { student: ModelArtifacts; teacher?: ModelArtifacts; baseline?: ModelArtifacts; [further: `teacher${number}`]: ModelArtifacts | undefined };
  /** With several teachers: each one trained in this job, by index (null for a given one). */
  teachers?: Array<ModelArtifacts | null>;
}

const TRAINING_ORDER: TrainingPhase[] = ['training_teacher', 'distilling', 'training_baseline'];
type Status = 'run' | 'resume' | 'done';

interface PhaseRun {
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

export async function runJob(spec: EngineSpec, ctx: RunContext): Promise<JobOutcome> {
  const problems = checkSpec(spec);
  if (problems.length > 0) throw new SpecError(problems);
  const resolved = withDefaults(spec);
  const backend = await initBackend(ctx.backend ?? 'auto');
  const specKey = sha256(JSON.stringify(resolved));
  const resume = ctx.resumeFrom;
  if (resume && resume.spec_key !== specKey) throw new CheckpointError('the checkpoint was taken by a job with a different spec');
  const resumeAt = resume ? TRAINING_ORDER.indexOf(resume.phase) : -1;
  const statusOf = (p: TrainingPhase): Status => (resumeAt < 0 || TRAINING_ORDER.indexOf(p) > resumeAt ? 'run' : TRAINING_ORDER.indexOf(p) < resumeAt ? 'done' : 'resume');
  const teacherStatus = (k: number): Status => {
    const s = statusOf('training_teacher');
    const at = resume?.teacher_index ?? 0;
    return s !== 'resume' ? s : k < at ? 'done' : k === at ? 'resume' : 'run';
  };

  const owner = new TensorOwner();
  const jobStart = performance.now();
  const timings: Record<string, number> = {};
  let progress = new ProgressTracker([['preparing_data', 1]]);
  let phaseStart = performance.now();
  let currentPhase: Phase | undefined;
  const enter = (phase: Phase) => {
    if (currentPhase) timings[currentPhase] = round((performance.now() - phaseStart) / 1000, 3);
    currentPhase = phase;
    phaseStart = performance.now();
    progress.enter(phase);
    ctx.onEvent({ type: 'phase', phase, progress: progress.snapshot() });
  };
  const log = (message: string) => ctx.onEvent({ type: 'log', level: 'info', message });

  try {
    enter('preparing_data');
    const dataset = await loadDataset(resolved.dataset, ctx.resolveDataset);
    await yieldToEventLoop();
    const split = splitDataset(dataset, { seed: resolved.seed, validationFraction: resolved.dataset.validation_fraction, testFraction: resolved.dataset.test_fraction, ...(resolved.dataset.limit ? { limit: resolved.dataset.limit } : {}) });
    const known = checkSpec(spec, { classes: split.classNames.length, inputShape: split.shape });
    if (known.length > 0) throw new SpecError(known);
    await yieldToEventLoop();
    const base = splitTensors(split, owner);
    const { teachers, student } = await buildJobModels(resolved, split, owner, ctx.resolveModel);
    await yieldToEventLoop();
    const teacherX = teachers.map((t) => tensorsFor(base.x, t.built.inputShape, owner));
    const studentX = tensorsFor(base.x, student.inputShape, owner);
    const plan = planDistillation(resolved.distillation, student.model, teachers.map((t) => t.built.model), split.train.y.length, split.classNames.length);
    if (plan.note) log(plan.note);
    const perBatch = plan.mode === 'per_batch';
    const { weights, teacherShares } = phaseWeights(resolved, teachers, student, split, perBatch);
    const skipped = TRAINING_ORDER.filter((p) => statusOf(p) === 'done');
    progress = new ProgressTracker(Object.entries(weights) as Array<[Phase, number]>, resumeAt >= 0 ? ['preparing_data', ...skipped, ...(resumeAt >= 1 && !perBatch ? (['computing_soft_targets'] as Phase[]) : [])] : []);
    progress.enter('preparing_data');
    progress.set(1);

    const history: Partial<Record<string, EpochSummary[]>> = { ...resume?.history };
    const extended = usesExtendedDistillation(resolved.distillation, teachers.length);
    const distillHistory: EpochTerms[] = [...(resume?.distillation_history ?? [])];
    /** Weights of the trained teachers finished so far, concatenated in teacher order (for checkpoints). */
    const finishedTeachers: StoredTensor[] = [];
    let studentWeights: StoredTensor[] | null = null;
    let softTargetKey: string | null = null;

    /** Trains one model for one phase, from scratch or from the checkpoint. */
    const trainPhase = async (r: PhaseRun) => {
      const optimizer = makeOptimizer(r.training);
      owner.own({ dispose: () => disposeOptimizer(optimizer) });
      let startEpoch = 0;
      if (r.status === 'resume') {
        writeModelWeights(r.built.model, resume!.weights);
        r.projections?.write(resume!.projection_weights ?? []);
        await writeOptimizerState(optimizer, resume!.optimizer);
        startEpoch = resume!.epoch;
        log(`resuming ${r.phase}${r.teacherIndex !== undefined ? ` (teacher ${r.teacherIndex})` : ''} after epoch ${startEpoch}`);
      }
      const steps = Math.ceil(split.train.y.length / r.training.batch_size);
      history[r.historyKey] = history[r.historyKey]?.slice(0, startEpoch) ?? [];
      if (r.objective) distillHistory.splice(startEpoch);
      await fit(
        {
          role: r.role,
          phase: r.phase,
          model: r.built.model,
          optimizer,
          learningRate: r.training.learning_rate,
          train: { x: r.x.train, y: base.y.train },
          validation: { x: r.x.validation, y: base.y.validation },
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
              spec_key: specKey,
              phase: r.phase,
              model: r.role,
              epoch,
              step: epoch * steps,
              rng: { seed: resolved.seed, algorithm: 'derived-mulberry32' },
              soft_target_key: softTargetKey,
              teacher_weights: finishedTeachers.length > 0 ? [...finishedTeachers] : null,
              student_weights: r.phase === 'training_baseline' ? studentWeights : null,
              ...(r.teacherIndex !== undefined ? { teacher_index: r.teacherIndex } : {}),
              weights: readModelWeights(r.built.model),
              optimizer: await readOptimizerState(optimizer),
              ...(r.projections ? { projection_weights: r.projections.read() } : {}),
              ...(r.objective && extended ? { distillation_history: structuredClone(distillHistory) } : {}),
              history: structuredClone(history),
              elapsed_seconds: round((resume?.elapsed_seconds ?? 0) + (performance.now() - jobStart) / 1000, 3),
            });
            ctx.onEvent({ type: 'checkpoint', phase: r.phase, model: r.role, epoch });
          },
        },
      );
    };

    let restoredFrom = 0; // position in resume.teacher_weights
    for (const [k, t] of teachers.entries()) {
      if (!t.training) continue;
      const status = teacherStatus(k);
      if (status === 'done') {
        const count = t.built.model.weights.length;
        const stored = resume!.teacher_weights?.slice(restoredFrom, restoredFrom + count);
        if (stored?.length !== count) throw new CheckpointError('the checkpoint lacks the weights of a trained teacher');
        restoredFrom += count;
        writeModelWeights(t.built.model, stored);
        if (ctx.onCheckpoint) finishedTeachers.push(...stored);
        continue;
      }
      if (currentPhase !== 'training_teacher') enter('training_teacher');
      if (teachers.length > 1) log(`training teacher ${k} (${k + 1} of ${teachers.length})`);
      const share = teacherShares[k]!;
      await trainPhase({
        phase: 'training_teacher', role: 'teacher', built: t.built, training: t.training, x: teacherX[k]!, status, stream: teacherKey(k), historyKey: teacherKey(k),
        progress: progress.slice(share.offset, share.share), ...(teachers.length > 1 ? { teacherIndex: k } : {}),
      });
      if (ctx.onCheckpoint) finishedTeachers.push(...readModelWeights(t.built.model));
    }
    throwIfAborted(ctx.signal);

    softTargetKey = sha256(
      JSON.stringify([resolved.dataset, resolved.seed, ...teachers.map((t) => t.built.inputShape), ...(plan.needs.length > 0 ? [plan.needs] : [])]),
      ...teachers.flatMap((t) => readModelWeights(t.built.model).map((w) => w.data)),
    );
    const distilling = statusOf('distilling');
    if (distilling === 'done') {
      writeModelWeights(student.model, resume!.student_weights ?? []);
    } else {
      const inputs = teachers.map((t, k) => ({ model: t.built.model, x: teacherX[k]!.train }));
      // Once per (teachers, data) unless too big: every distillation epoch then runs the student only.
      if (!perBatch) enter('computing_soft_targets');
      const targets = owner.own(await buildTargets(plan, inputs, (f) => progress.set(f)));
      const projections = plan.projections.length > 0 ? owner.own(new Projections(plan.projections, resolved.seed)) : undefined;
      const objective = buildObjective(resolved.distillation, plan, student.model, resolved.student.training.epochs, targets, projections);
      enter('distilling');
      await trainPhase({
        phase: 'distilling', role: 'student', built: student, training: resolved.student.training, x: studentX, status: distilling, stream: 'student', historyKey: 'student',
        progress, objective, ...(projections ? { projections } : {}),
      });
    }

    let baseline: BuiltModel | undefined;
    if (resolved.distillation.baseline) {
      if (ctx.onCheckpoint) studentWeights = readModelWeights(student.model);
      baseline = owner.ownModel(buildFromSpec(resolved.student.model, split, 'baseline', resolved.seed, 'student'));
      enter('training_baseline');
      await trainPhase({ phase: 'training_baseline', role: 'baseline', built: baseline, training: resolved.student.training, x: studentX, status: statusOf('training_baseline') === 'resume' ? 'resume' : 'run', stream: 'student', historyKey: 'baseline', progress });
    }
    throwIfAborted(ctx.signal);

    enter('evaluating');
    const under = (built: BuiltModel, x: SplitTensors, key: string, origin: 'trained' | 'given' = 'trained') => ({ built, x: x.test, origin, history: history[key] ?? [] });
    const models = [...teachers.map((t, k) => under(t.built, teacherX[k]!, teacherKey(k), t.training ? 'trained' : 'given')), under(student, studentX, 'student'), ...(baseline ? [under(baseline, studentX, 'baseline')] : [])];
    const evaluated = await evaluateAll(models, base.y.test, split.classNames, () => progress.set(0.3));
    const [evaluatedTeachers, evaluatedStudent, evaluatedBaseline] = [evaluated.slice(0, teachers.length), evaluated[teachers.length]!, evaluated[teachers.length + 1]];
    const ensemble = teachers.length > 1 ? { predictions: await ensemblePredictions(evaluatedTeachers, plan.teacherWeights), weights: plan.teacherWeights, labels: split.test.y } : undefined;

    enter('saving');
    const [teacherArtifacts, studentArtifacts, baselineArtifacts] = await saveAll(evaluated, teachers.length);
    progress.set(1);
    timings.saving = round((performance.now() - phaseStart) / 1000, 3);

    const report = assembleReport({
      backend: backend.name,
      spec: resolved,
      split,
      softTargets: plan.mode,
      teachers: evaluatedTeachers,
      teacherArtifacts,
      student: evaluatedStudent,
      studentArtifacts,
      ...(evaluatedBaseline && baselineArtifacts ? { baseline: { evaluated: evaluatedBaseline, artifacts: baselineArtifacts } } : {}),
      ...(ensemble ? { ensemble } : {}),
      ...(extended ? { distillation: distillationReport(resolved.distillation, plan, teachers.length, distillHistory) } : {}),
      timings,
      elapsedSeconds: round((resume?.elapsed_seconds ?? 0) + (performance.now() - jobStart) / 1000, 3),
    });
    return {
      report,
      models: {
        student: studentArtifacts,
        ...Object.fromEntries(teachers.flatMap((t, k) => (t.training ? [[teacherKey(k), teacherArtifacts[k]!]] : []))),
        ...(baselineArtifacts ? { baseline: baselineArtifacts } : {}),
      },
      ...(teachers.length > 1 ? { teachers: teacherArtifacts.map((a, k) => (teachers[k]!.training ? a : null)) } : {}),
    };
  } finally {
    owner.disposeAll();
  }
}

function sha256(text: string, ...blobs: Array<Float32Array | Int32Array>): string {
  const h = createHash('sha256').update(text);
  for (const b of blobs) h.update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  return h.digest('hex').slice(0, 32);
}

// Re-exported so callers of runJob find the whole contract in one module.
export type { Checkpoint } from './checkpoint.js';
export type { ModelArtifacts } from './models/serialize.js';
export type { Report } from './report.js';
export { tf };
