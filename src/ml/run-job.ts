/**
 * One distillation job, start to finish: prepare data, train or load the teacher, compute soft
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
import { SpecError } from './errors.js';
import type { EngineEvent, ModelRole, Phase, TrainingPhase } from './events.js';
import { buildFromSpec, loadGivenTeacher, phaseWeights, splitTensors, tensorsFor, TensorOwner, type BuiltModel, type SplitTensors } from './job-setup.js';
import { predictLogits } from './models/build.js';
import { artifactsBytes, modelToArtifacts, type ModelArtifacts } from './models/serialize.js';
import { ProgressTracker } from './progress.js';
import { agreement, evaluateOnTest, measureLatency, ratio, round, type ModelReport, type Report } from './report.js';
import { checkSpec, withDefaults, type EngineSpec, type ResolvedTraining } from './spec.js';
import { fit, throwIfAborted, yieldToEventLoop, type EpochSummary, type SoftTargetSource } from './train/fit.js';
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
  models: { student: ModelArtifacts; teacher?: ModelArtifacts; baseline?: ModelArtifacts };
}

const TRAINING_ORDER: TrainingPhase[] = ['training_teacher', 'distilling', 'training_baseline'];

export async function runJob(spec: EngineSpec, ctx: RunContext): Promise<JobOutcome> {
  const problems = checkSpec(spec);
  if (problems.length > 0) throw new SpecError(problems);
  const resolved = withDefaults(spec);
  const backend = await initBackend(ctx.backend ?? 'auto');
  const specKey = sha256(JSON.stringify(resolved));
  const resume = ctx.resumeFrom;
  if (resume && resume.spec_key !== specKey) throw new CheckpointError('the checkpoint was taken by a job with a different spec');
  const resumeAt = resume ? TRAINING_ORDER.indexOf(resume.phase) : -1;
  const statusOf = (p: TrainingPhase) => (resumeAt < 0 || TRAINING_ORDER.indexOf(p) > resumeAt ? 'run' : TRAINING_ORDER.indexOf(p) < resumeAt ? 'done' : 'resume');

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

  try {
    enter('preparing_data');
    const dataset = await loadDataset(resolved.dataset, ctx.resolveDataset);
    await yieldToEventLoop();
    const split = splitDataset(dataset, { seed: resolved.seed, validationFraction: resolved.dataset.validation_fraction, testFraction: resolved.dataset.test_fraction, ...(resolved.dataset.limit ? { limit: resolved.dataset.limit } : {}) });
    const known = checkSpec(spec, { classes: split.classNames.length, inputShape: split.shape });
    if (known.length > 0) throw new SpecError(known);
    await yieldToEventLoop();
    const base = splitTensors(split, owner);
    const teacherSpec = resolved.teacher;
    const teacher = owner.ownModel(
      'model_id' in teacherSpec ? await loadGivenTeacher(teacherSpec.model_id, split, ctx.resolveModel) : buildFromSpec(teacherSpec.model, split, 'teacher', resolved.seed),
    );
    const student = owner.ownModel(buildFromSpec(resolved.student.model, split, 'student', resolved.seed));
    await yieldToEventLoop();
    const teacherX = tensorsFor(base.x, teacher.inputShape, owner);
    const studentX = tensorsFor(base.x, student.inputShape, owner);
    await yieldToEventLoop();
    const perBatch = resolved.distillation.soft_targets === 'per_batch';
    const weights = phaseWeights(resolved, teacher, student, split, 'model' in teacherSpec, perBatch);
    const skipped = TRAINING_ORDER.filter((p) => statusOf(p) === 'done');
    progress = new ProgressTracker(Object.entries(weights) as Array<[Phase, number]>, resumeAt >= 0 ? ['preparing_data', ...skipped, ...(resumeAt >= 1 && !perBatch ? (['computing_soft_targets'] as Phase[]) : [])] : []);
    progress.enter('preparing_data');
    progress.set(1);

    const history: Partial<Record<ModelRole, EpochSummary[]>> = { ...resume?.history };
    let teacherWeights: StoredTensor[] | null = null;
    let studentWeights: StoredTensor[] | null = null;
    let softTargetKey: string | null = null;

    /** Trains one model for one phase, resuming or skipping it as the checkpoint says. */
    const trainPhase = async (phase: TrainingPhase, role: ModelRole, built: BuiltModel, training: ResolvedTraining, x: SplitTensors, distill?: { targets: SoftTargetSource }) => {
      const status = statusOf(phase);
      if (status === 'done') {
        const stored = role === 'teacher' ? resume!.teacher_weights : role === 'student' ? resume!.student_weights : null;
        if (stored) writeModelWeights(built.model, stored);
        return;
      }
      enter(phase);
      const optimizer = makeOptimizer(training);
      owner.own({ dispose: () => disposeOptimizer(optimizer) });
      let startEpoch = 0;
      if (status === 'resume') {
        writeModelWeights(built.model, resume!.weights);
        await writeOptimizerState(optimizer, resume!.optimizer);
        startEpoch = resume!.epoch;
        ctx.onEvent({ type: 'log', level: 'info', message: `resuming ${phase} after epoch ${startEpoch}` });
      }
      const steps = Math.ceil(split.train.y.length / training.batch_size);
      const previous = history[role]?.slice(0, startEpoch) ?? [];
      history[role] = previous;
      await fit(
        {
          role,
          phase,
          model: built.model,
          optimizer,
          learningRate: training.learning_rate,
          train: { x: x.train, y: base.y.train },
          validation: { x: x.validation, y: base.y.validation },
          ...(distill ? { distill: { temperature: resolved.distillation.temperature, alpha: resolved.distillation.alpha, targets: distill.targets } } : {}),
          epochs: training.epochs,
          batchSize: training.batch_size,
          startEpoch,
          seed: resolved.seed,
          randomStream: role === 'baseline' ? 'student' : role,
        },
        {
          emit: ctx.onEvent,
          progress,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          ...(ctx.metricsEvery ? { metricsEvery: ctx.metricsEvery } : {}),
          afterEpoch: async (epoch, summary) => {
            history[role]!.push(summary);
            if (!ctx.onCheckpoint) return;
            await ctx.onCheckpoint({
              version: 1,
              spec_key: specKey,
              phase,
              model: role,
              epoch,
              step: epoch * steps,
              rng: { seed: resolved.seed, algorithm: 'derived-mulberry32' },
              soft_target_key: softTargetKey,
              teacher_weights: phase === 'training_teacher' ? null : teacherWeights,
              student_weights: phase === 'training_baseline' ? studentWeights : null,
              weights: readModelWeights(built.model),
              optimizer: await readOptimizerState(optimizer),
              history: structuredClone(history),
              elapsed_seconds: round((resume?.elapsed_seconds ?? 0) + (performance.now() - jobStart) / 1000, 3),
            });
            ctx.onEvent({ type: 'checkpoint', phase, model: role, epoch });
          },
        },
      );
    };

    if ('model' in teacherSpec) {
      await trainPhase('training_teacher', 'teacher', teacher, teacherSpec.training, teacherX);
      if (ctx.onCheckpoint) teacherWeights = readModelWeights(teacher.model);
    }
    throwIfAborted(ctx.signal);

    let targets: SoftTargetSource;
    if (perBatch) {
      targets = { kind: 'per_batch', teacher: teacher.model, x: teacherX.train };
    } else {
      enter('computing_soft_targets');
      // Once per (teacher, data): every distillation epoch then runs the student only.
      targets = { kind: 'cached', logits: owner.own(await predictLogits(teacher.model, teacherX.train)) };
      progress.set(1);
    }
    softTargetKey = sha256(JSON.stringify([resolved.dataset, resolved.seed, teacher.inputShape]), ...readModelWeights(teacher.model).map((w) => w.data));
    await trainPhase('distilling', 'student', student, resolved.student.training, studentX, { targets });

    let baseline: BuiltModel | undefined;
    if (resolved.distillation.baseline) {
      if (ctx.onCheckpoint) studentWeights = readModelWeights(student.model);
      const built = owner.ownModel(buildFromSpec(resolved.student.model, split, 'baseline', resolved.seed, 'student'));
      baseline = built;
      await trainPhase('training_baseline', 'baseline', built, resolved.student.training, studentX);
    }
    throwIfAborted(ctx.signal);

    enter('evaluating');
    const evaluate = (built: BuiltModel, x: SplitTensors) => evaluateOnTest(built.model, x.test, base.y.test, split.classNames);
    const evals = { teacher: await evaluate(teacher, teacherX), student: await evaluate(student, studentX), baseline: baseline ? await evaluate(baseline, studentX) : undefined };
    progress.set(0.3);
    const latency = {
      teacher: await measureLatency(teacher.model, teacher.inputShape),
      student: await measureLatency(student.model, student.inputShape),
      baseline: baseline ? await measureLatency(baseline.model, baseline.inputShape) : undefined,
    };

    enter('saving');
    const artifacts = {
      teacher: await modelToArtifacts(teacher.model),
      student: await modelToArtifacts(student.model),
      baseline: baseline ? await modelToArtifacts(baseline.model) : undefined,
    };
    progress.set(1);
    timings.saving = round((performance.now() - phaseStart) / 1000, 3);

    const modelReport = (role: ModelRole, built: BuiltModel): ModelReport => {
      const e = evals[role]!;
      return {
        origin: role === 'teacher' && 'model_id' in teacherSpec ? 'given' : 'trained',
        input_shape: built.inputShape,
        test_accuracy: round(e.accuracy),
        test_loss: round(e.loss),
        per_class_accuracy: e.perClass.map((c) => ({ ...c, accuracy: c.accuracy === null ? null : round(c.accuracy) })),
        parameters: built.model.countParams(),
        bytes: artifactsBytes(artifacts[role]!),
        latency_ms_per_sample: latency[role]!,
        history: history[role] ?? [],
      };
    };
    const teacherReport = modelReport('teacher', teacher);
    const studentReport = modelReport('student', student);
    const baselineReport = baseline ? modelReport('baseline', baseline) : undefined;
    const report: Report = {
      backend: backend.name,
      dataset: {
        source: resolved.dataset.source,
        input_shape: split.shape,
        classes: split.classNames,
        train_samples: split.train.y.length,
        validation_samples: split.validation.y.length,
        test_samples: split.test.y.length,
      },
      soft_targets: perBatch ? 'per_batch' : 'cached',
      teacher: teacherReport,
      student: studentReport,
      ...(baselineReport ? { baseline: baselineReport } : {}),
      compression_ratio: ratio(teacherReport.parameters, studentReport.parameters),
      size_ratio: ratio(teacherReport.bytes, studentReport.bytes),
      speed_up: {
        batch_1: ratio(teacherReport.latency_ms_per_sample.batch_1, studentReport.latency_ms_per_sample.batch_1),
        batch_256: ratio(teacherReport.latency_ms_per_sample.batch_256, studentReport.latency_ms_per_sample.batch_256),
      },
      teacher_student_agreement: round(agreement(evals.teacher.predictions, evals.student.predictions)),
      distillation_gain: baselineReport ? round(studentReport.test_accuracy - baselineReport.test_accuracy) : null,
      timings,
      elapsed_seconds: round((resume?.elapsed_seconds ?? 0) + (performance.now() - jobStart) / 1000, 3),
      spec: resolved,
    };
    return {
      report,
      models: {
        student: artifacts.student,
        ...('model' in teacherSpec ? { teacher: artifacts.teacher } : {}),
        ...(artifacts.baseline ? { baseline: artifacts.baseline } : {}),
      },
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
