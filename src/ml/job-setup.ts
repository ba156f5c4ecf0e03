/**
 * Everything a job needs before training: the split dataset as tensors at each model's input
 * resolution, the teachers (each built or given) and the student, and the compute each phase will cost.
 */
import * as tf from '@tensorflow/tfjs';
import { adaptInputs, planAdapt } from './data/adapt.js';
import type { SplitDataset } from './data/types.js';
import { checkDistillation } from './distill/check.js';
import { ModelError, SpecError } from './errors.js';
import { buildModel, layerShapes } from './models/build.js';
import { modelInputShape, modelLayers } from './models/presets.js';
import { artifactsToModel, type ModelArtifacts } from './models/serialize.js';
import { walkLayers } from './models/shapes.js';
import { isOnnxSource, onnxTeacherProblems, type OnnxModelSource } from './onnx/teacher-checks.js';
import { teacherKey, teacherList, type ModelSpec, type ResolvedSpec, type ResolvedTraining } from './spec.js';
import { type BuiltModel, type SplitTensors, TensorOwner } from './job-tensors.js';

export { type BuiltModel, type SplitTensors, TensorOwner };

export function splitTensors(
  split: SplitDataset,
  owner: TensorOwner,
): { x: SplitTensors; y: { train: tf.Tensor1D; validation: tf.Tensor1D; test: tf.Tensor1D } } {
  const x = (s: { x: Float32Array; y: Int32Array }) => owner.own(tf.tensor(s.x, [s.y.length, ...split.shape]));
  const y = (s: { y: Int32Array }) => owner.own(tf.tensor1d(s.y, 'int32'));
  return {
    x: { train: x(split.train), validation: x(split.validation), test: x(split.test) },
    y: { train: y(split.train), validation: y(split.validation), test: y(split.test) },
  };
}

/** The same splits at a model's input shape (the dataset's own tensors when the shapes agree). */
export function tensorsFor(base: SplitTensors, inputShape: readonly number[], owner: TensorOwner): SplitTensors {
  const from = base.train.shape.slice(1);
  if (planAdapt(from, inputShape)?.kind === 'same') return base;
  return {
    train: owner.own(adaptInputs(base.train, inputShape)),
    validation: owner.own(adaptInputs(base.validation, inputShape)),
    test: owner.own(adaptInputs(base.test, inputShape)),
  };
}

export function buildFromSpec(spec: ModelSpec, split: SplitDataset, role: string, seed: number, seedRole = role): BuiltModel {
  const inputShape = modelInputShape(spec, split.shape)!;
  const layers = modelLayers(spec, inputShape, split.classNames.length);
  return { model: buildModel(layers, inputShape, role, seed, seedRole), inputShape, macs: walkLayers(layers, inputShape).macs };
}

/** A given teacher, checked against the dataset: its input must be reachable, its outputs the classes. */
export async function loadGivenTeacher(id: string, split: SplitDataset, resolve: ((id: string) => Promise<ModelArtifacts>) | undefined): Promise<BuiltModel> {
  if (!resolve) throw new ModelError('model_not_found', `teacher model "${id}" cannot be resolved here (no model resolver given)`);
  const artifacts = await resolve(id);
  let model: tf.LayersModel;
  try {
    model = await artifactsToModel(artifacts);
  } catch (err) {
    // The loader's own message names tfjs internals; the person is told what is wrong with the model.
    throw new ModelError(
      'model_unreadable',
      `teacher model "${id}" is not a readable tfjs layers model (${err instanceof Error ? err.name : 'error'} while building it)`,
    );
  }
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const outputShape = model.outputs[0]!.shape.slice(1);
  const problem =
    inputShape.some((d) => d === null) || !planAdapt(split.shape, inputShape)
      ? `reads inputs of shape [${inputShape}], which dataset samples of shape [${split.shape}] cannot be resized to`
      : outputShape.length !== 1 || outputShape[0] !== split.classNames.length
        ? `outputs [${outputShape}] but the dataset has ${split.classNames.length} classes`
        : undefined;
  if (problem) {
    model.dispose();
    throw new ModelError('model_shape_mismatch', `teacher model "${id}" ${problem}`);
  }
  return { model, inputShape, macs: model.countParams() };
}

/** A teacher of the job, built here or given, with the training it gets (none when given). */
export interface JobTeacher {
  built: BuiltModel;
  training?: ResolvedTraining;
  /** A teacher run once over the splits (ONNX): its scores, which its stand-in model reads as inputs. */
  precomputed?: SplitTensors;
}

/** The teachers (built or loaded) and the student; layer pairs checked against the real models. */
export async function buildJobModels(
  spec: ResolvedSpec,
  split: SplitDataset,
  owner: TensorOwner,
  resolve: ((id: string) => Promise<ModelArtifacts | OnnxModelSource>) | undefined,
) {
  const teachers: JobTeacher[] = [];
  for (const [k, t] of teacherList(spec).entries()) {
    const source = 'model_id' in t && resolve ? await resolve(t.model_id) : undefined;
    if ('model_id' in t && isOnnxSource(source)) {
      // Loaded only for ONNX teachers: onnxruntime's native library is not every job's cost.
      const { loadOnnxTeacher } = await import('./onnx/given-teacher.js');
      teachers.push(await loadOnnxTeacher(t.model_id, source, split, owner, onnxTeacherProblems(spec.distillation, k, t.model_id)));
      continue;
    }
    teachers.push(
      'model_id' in t
        ? { built: owner.ownModel(await loadGivenTeacher(t.model_id, split, resolve && (async () => source as ModelArtifacts))) }
        : { built: owner.ownModel(buildFromSpec(t.model, split, 'teacher', spec.seed, teacherKey(k))), training: t.training },
    );
  }
  const student = owner.ownModel(buildFromSpec(spec.student.model, split, 'student', spec.seed));
  // Teachers given by id, and shapes on an uploaded dataset, are known only now.
  const refs = checkDistillation(spec.distillation, { student: layerShapes(student.model), teachers: teachers.map((t) => layerShapes(t.built.model)) });
  if (refs.length > 0) throw new SpecError(refs);
  return { teachers, student };
}

/** Relative compute per phase (multiply-adds), for job-wide percent and ETA; and each teacher's share of its phase. */
export function phaseWeights(spec: ResolvedSpec, teachers: readonly JobTeacher[], student: BuiltModel, split: SplitDataset, perBatch: boolean) {
  const n = split.train.y.length;
  const nv = split.validation.y.length;
  const nt = split.test.y.length;
  const mt = teachers.reduce((s, t) => s + t.built.macs, 0);
  const ms = student.macs;
  const se = spec.student.training.epochs;
  const perTeacher = teachers.map((t) => (t.training ? t.training.epochs * (3 * t.built.macs * n + t.built.macs * nv) : 0));
  const teacherTraining = perTeacher.reduce((a, b) => a + b, 0);
  const distilling = se * (3 * ms * n + ms * nv + (perBatch ? mt * n : 0));
  const baseline = spec.distillation.baseline ? se * (3 * ms * n + ms * nv) : 0;
  const training = teacherTraining + distilling + baseline + mt * n;
  const weights = {
    preparing_data: training * 0.01,
    training_teacher: teacherTraining,
    computing_soft_targets: perBatch ? 0 : mt * n,
    distilling,
    training_baseline: baseline,
    // Evaluation is short but measuring latency takes a few seconds whatever the model size.
    evaluating: (mt + 2 * ms) * nt + training * 0.04 * teachers.length,
    saving: training * 0.01,
  };
  let before = 0;
  const teacherShares = perTeacher.map((w) => {
    const share = { offset: teacherTraining > 0 ? before / teacherTraining : 0, share: teacherTraining > 0 ? w / teacherTraining : 0 };
    before += w;
    return share;
  });
  return { weights, teacherShares };
}
