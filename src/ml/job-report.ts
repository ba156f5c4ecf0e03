/**
 * The evaluating and saving phases of a job: each model scored on the test split, timed and
 * serialized, then the report that compares them.
 */
import * as tf from '@tensorflow/tfjs';
import type { SplitDataset } from './data/types.js';
import { ensembleLogProbs } from './distill/loss.js';
import type { BuiltModel } from './job-setup.js';
import { predictLogits } from './models/build.js';
import { artifactsBytes, modelToArtifacts, type ModelArtifacts } from './models/serialize.js';
import {
  agreement,
  evaluateOnTest,
  measureLatency,
  ratio,
  round,
  type DistillationReport,
  type ModelReport,
  type Report,
  type TestEvaluation,
} from './report.js';
import type { ResolvedSpec } from './spec.js';
import type { EpochSummary } from './train/fit.js';

export interface ModelUnderTest {
  built: BuiltModel;
  /** The test split at this model's input resolution. */
  x: tf.Tensor;
  origin: 'trained' | 'given';
  history: EpochSummary[];
}

export interface Evaluated extends ModelUnderTest {
  evaluation: TestEvaluation;
  latency: { batch_1: number; batch_256: number };
}

export async function evaluate(m: ModelUnderTest, y: tf.Tensor1D, classNames: readonly string[]): Promise<Evaluated> {
  return { ...m, evaluation: await evaluateOnTest(m.built.model, m.x, y, classNames), latency: { batch_1: 0, batch_256: 0 } };
}

/** Fills in `latency` (a few seconds per model, whatever its size). */
export async function timeLatency(e: Evaluated): Promise<void> {
  e.latency = await (e.built.given?.latency() ?? measureLatency(e.built.model, e.built.inputShape));
}

export function modelReport(e: Evaluated, artifacts: ModelArtifacts): ModelReport {
  const r = e.evaluation;
  return {
    origin: e.origin,
    input_shape: e.built.given?.inputShape ?? e.built.inputShape,
    test_accuracy: round(r.accuracy),
    test_loss: round(r.loss),
    per_class_accuracy: r.perClass.map((c) => ({ ...c, accuracy: c.accuracy === null ? null : round(c.accuracy) })),
    parameters: e.built.given?.parameters ?? e.built.model.countParams(),
    bytes: e.built.given?.bytes ?? artifactsBytes(artifacts),
    latency_ms_per_sample: e.latency,
    history: e.history,
  };
}

/** Predictions of several teachers as one classifier: argmax of Σ w_k·softmax(t_k). */
export async function ensemblePredictions(teachers: readonly Evaluated[], weights: readonly number[]): Promise<Int32Array> {
  const logits = await Promise.all(teachers.map((t) => predictLogits(t.built.model, t.x)));
  try {
    return tf.tidy(() => Int32Array.from(tf.argMax(ensembleLogProbs(logits, weights, 1), 1).dataSync()));
  } finally {
    logits.forEach((l) => l.dispose());
  }
}

export interface ReportInputs {
  backend: string;
  compute?: Report['compute'];
  spec: ResolvedSpec;
  split: SplitDataset;
  softTargets: 'cached' | 'per_batch';
  teachers: Evaluated[];
  teacherArtifacts: ModelArtifacts[];
  student: Evaluated;
  studentArtifacts: ModelArtifacts;
  baseline?: { evaluated: Evaluated; artifacts: ModelArtifacts };
  /** With several teachers: the ensemble's predictions and its weights. */
  ensemble?: { predictions: Int32Array; weights: number[]; labels: Int32Array };
  distillation?: DistillationReport;
  timings: Record<string, number>;
  elapsedSeconds: number;
}

export function assembleReport(i: ReportInputs): Report {
  const teacherReports = i.teachers.map((t, k) => modelReport(t, i.teacherArtifacts[k]!));
  const teacher = teacherReports[0]!;
  const student = modelReport(i.student, i.studentArtifacts);
  const baseline = i.baseline ? modelReport(i.baseline.evaluated, i.baseline.artifacts) : undefined;
  const reference = i.ensemble?.predictions ?? i.teachers[0]!.evaluation.predictions;
  const ensembleAccuracy = i.ensemble ? agreement(i.ensemble.predictions, i.ensemble.labels) : undefined;
  const total = i.ensemble?.weights.reduce((a, b) => a + b, 0) ?? 1;
  return {
    backend: i.backend,
    ...(i.compute ? { compute: i.compute } : {}),
    dataset: {
      source: i.spec.dataset.source,
      input_shape: i.split.shape,
      classes: i.split.classNames,
      train_samples: i.split.train.y.length,
      validation_samples: i.split.validation.y.length,
      test_samples: i.split.test.y.length,
    },
    soft_targets: i.softTargets,
    teacher,
    ...(teacherReports.length > 1 ? { teachers: teacherReports } : {}),
    ...(i.ensemble ? { teacher_ensemble: { test_accuracy: round(ensembleAccuracy!), weights: i.ensemble.weights.map((w) => round(w / total)) } } : {}),
    student,
    ...(baseline ? { baseline } : {}),
    ...(i.distillation ? { distillation: i.distillation } : {}),
    compression_ratio: ratio(teacher.parameters, student.parameters),
    size_ratio: ratio(teacher.bytes, student.bytes),
    speed_up: {
      batch_1: ratio(teacher.latency_ms_per_sample.batch_1, student.latency_ms_per_sample.batch_1),
      batch_256: ratio(teacher.latency_ms_per_sample.batch_256, student.latency_ms_per_sample.batch_256),
    },
    teacher_student_agreement: round(agreement(reference, i.student.evaluation.predictions)),
    distillation_gain: baseline ? round(student.test_accuracy - baseline.test_accuracy) : null,
    timings: i.timings,
    elapsed_seconds: i.elapsedSeconds,
    spec: i.spec,
  };
}

/** Scores every model on the test split, then times each (`scored` runs in between). */
export async function evaluateAll(models: readonly ModelUnderTest[], y: tf.Tensor1D, classNames: readonly string[], scored: () => void): Promise<Evaluated[]> {
  const evaluated: Evaluated[] = [];
  for (const m of models) evaluated.push(await evaluate(m, y, classNames));
  scored();
  for (const e of evaluated) await timeLatency(e);
  return evaluated;
}

/** Serializes teachers, student and baseline (in evaluateAll's order). */
export async function saveAll(evaluated: readonly Evaluated[], teachers: number): Promise<[ModelArtifacts[], ModelArtifacts, ModelArtifacts | undefined]> {
  const all: ModelArtifacts[] = [];
  for (const e of evaluated) all.push(await modelToArtifacts(e.built.model));
  return [all.slice(0, teachers), all[teachers]!, all[teachers + 1]];
}
