/**
 * From a resolved distillation spec and the built models to what the distilling phase runs: which
 * teacher layers it needs, the projections of hint pairs, whether teacher outputs are cached or
 * computed per batch, and the objective.
 */
import type * as tf from '@tensorflow/tfjs';
import { layerShapes } from '../models/build.js';
import type { DistillationReport } from '../report.js';
import type { ResolvedDistillation } from '../spec-distillation.js';
import type { EpochTerms } from '../train/fit.js';
import { DistillObjective, type FeaturePair } from './objective.js';
import { planProjection, projectionParameters, Projections, type ProjectionPlan } from './projection.js';
import { cachedTargets, cacheBytes, perBatchTargets, TARGET_CACHE_BYTES, type FeatureNeed, type TargetSource, type TeacherInput } from './targets.js';

export interface DistillationPlan {
  needs: FeatureNeed[];
  hintPairs: FeaturePair[];
  attentionPairs: FeaturePair[];
  projections: ProjectionPlan[];
  wantLogits: boolean;
  mode: 'cached' | 'per_batch';
  /** Why teacher outputs are computed per batch though caching was asked for (a log line), if so. */
  note?: string;
  teacherWeights: number[];
}

/** Layer references must have been checked (checkDistillation) against these very models. */
export function planDistillation(
  d: ResolvedDistillation,
  student: tf.LayersModel,
  teachers: readonly tf.LayersModel[],
  samples: number,
  classes: number,
): DistillationPlan {
  const studentShapes = layerShapes(student);
  const teacherShapes = teachers.map(layerShapes);
  const needs: FeatureNeed[] = [];
  const projections: ProjectionPlan[] = [];
  const hintPairs = (d.hint?.pairs ?? []).map((p): FeaturePair => {
    const shape = teacherShapes[p.teacher_index]!.get(p.teacher)!;
    const plan = planProjection(studentShapes.get(p.student)!, shape);
    if (typeof plan === 'string') throw new Error(`unchecked hint pair ${p.student} → ${p.teacher}: ${plan}`);
    projections.push(plan);
    needs.push({ kind: 'hint', teacher: p.teacher_index, layer: p.teacher, shape });
    return { student: p.student, weight: p.weight, need: needs.length - 1 };
  });
  const attentionPairs = (d.attention?.pairs ?? []).map((p): FeaturePair => {
    const s = studentShapes.get(p.student)!;
    needs.push({ kind: 'attention', teacher: p.teacher_index, layer: p.teacher, shape: teacherShapes[p.teacher_index]!.get(p.teacher)!, size: [s[0]!, s[1]!] });
    return { student: p.student, weight: p.weight, need: needs.length - 1 };
  });
  const wantLogits = d.method.includes('logits');
  const bytes = cacheBytes(samples, classes, teachers.length, wantLogits, needs);
  const tooBig = bytes > TARGET_CACHE_BYTES;
  const mode = d.soft_targets === 'per_batch' || tooBig ? 'per_batch' : 'cached';
  return {
    needs,
    hintPairs,
    attentionPairs,
    projections,
    wantLogits,
    mode,
    ...(tooBig && d.soft_targets !== 'per_batch'
      ? {
          note: `teacher outputs for ${samples} samples would take ${Math.round(bytes / 2 ** 20)} MiB (cache limit ${TARGET_CACHE_BYTES / 2 ** 20} MiB): the teachers run on every batch instead`,
        }
      : {}),
    teacherWeights: d.teacher_weights ?? teachers.map(() => 1),
  };
}

/** The teachers' targets as the plan says: computed now (cached) or on demand (per batch). */
export async function buildTargets(plan: DistillationPlan, teachers: readonly TeacherInput[], onProgress?: (fraction: number) => void): Promise<TargetSource> {
  return plan.mode === 'cached' ? cachedTargets(teachers, plan.wantLogits, plan.needs, onProgress) : perBatchTargets(teachers, plan.wantLogits, plan.needs);
}

export function buildObjective(
  d: ResolvedDistillation,
  plan: DistillationPlan,
  student: tf.LayersModel,
  epochs: number,
  targets: TargetSource,
  projections: Projections | undefined,
): DistillObjective {
  return new DistillObjective(student, {
    methods: d.method,
    temperature: d.temperature,
    alpha: d.alpha,
    epochs,
    teacherWeights: plan.teacherWeights,
    targets,
    ...(d.hint && projections ? { hint: { beta: d.hint.beta, pairs: plan.hintPairs, projections } } : {}),
    ...(d.attention ? { attention: { beta: d.attention.beta, pairs: plan.attentionPairs } } : {}),
  });
}

/** The report's account of what the student learned from (jobs beyond plain logits). */
export function distillationReport(d: ResolvedDistillation, plan: DistillationPlan, teachers: number, history: EpochTerms[]): DistillationReport {
  return { methods: d.method, teachers, projection_parameters: plan.projections.reduce((n, p) => n + projectionParameters(p), 0), history };
}

export { Projections };
