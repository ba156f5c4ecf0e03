import { modelInputShape, modelLayers } from '../ml/models/presets.js';
import { walkLayers } from '../ml/models/shapes.js';
import { builtinFacts, type DatasetFacts } from '../ml/spec-check.js';
import { type EngineSpec, type ModelSpec, teacherList, withDefaults } from '../ml/spec.js';

export interface SizeLimits {
  maxEpochs: number;
  maxSampleEpochs: number;
  maxModelMacs: number;
}

export interface UploadedDataset {
  facts: DatasetFacts;
  /** Samples in its training set. */
  trainSamples: number;
}

const DEFAULT_SAMPLES: Record<string, number> = { 'builtin:mnist': 10_000, 'builtin:synthetic': 5000 };

/**
 * The server's limits on what one job may cost, as problems naming the field. Run on a spec that
 * already passed the engine's checks. `uploaded` describes the uploaded dataset a job names (builtin
 * datasets are described by the spec itself).
 */
export function jobSizeProblems(spec: EngineSpec, limits: SizeLimits, uploaded?: UploadedDataset): { field: string; message: string }[] {
  const resolved = withDefaults(spec);
  const facts = uploaded?.facts ?? builtinFacts(spec.dataset);
  const available = uploaded?.trainSamples ?? spec.dataset.options?.samples ?? DEFAULT_SAMPLES[spec.dataset.source] ?? 0;
  const samples = Math.min(available, spec.dataset.limit?.train ?? Infinity);
  const trained: [string, ModelSpec, number][] = [];
  const teachers = teacherList(resolved);
  teachers.forEach((teacher, i) => {
    if ('model' in teacher) trained.push([resolved.teachers ? `teachers/${i}` : 'teacher', teacher.model, teacher.training.epochs]);
  });
  trained.push(['student', resolved.student.model, resolved.student.training.epochs]);
  const problems: { field: string; message: string }[] = [];
  let sampleEpochs = 0;
  for (const [role, model, epochs] of trained) {
    if (epochs > limits.maxEpochs) problems.push({ field: `/${role}/training/epochs`, message: `must be <= ${limits.maxEpochs} (the server's MAX_EPOCHS)` });
    sampleEpochs += samples * epochs * (role === 'student' && resolved.distillation.baseline ? 2 : 1);
    const inputShape = modelInputShape(model, facts.inputShape);
    if (!inputShape) continue;
    const macs = walkLayers(modelLayers(model, inputShape, facts.classes ?? 2), inputShape).macs;
    if (macs > limits.maxModelMacs) {
      problems.push({ field: `/${role}/model`, message: `the model needs ${macs} multiply-adds per sample, over the server's MAX_MODEL_MACS (${limits.maxModelMacs})` });
    }
  }
  if (sampleEpochs > limits.maxSampleEpochs) {
    problems.push({ field: '/dataset', message: `the job would train on ${sampleEpochs} sample-epochs, over the server's MAX_SAMPLE_EPOCHS (${limits.maxSampleEpochs}): use fewer epochs or dataset.limit.train` });
  }
  return problems;
}
