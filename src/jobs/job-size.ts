import { modelInputShape, modelLayers } from '../ml/models/presets.js';
import { walkLayers } from '../ml/models/shapes.js';
import { builtinFacts } from '../ml/spec-check.js';
import { type EngineSpec, type ModelSpec, withDefaults } from '../ml/spec.js';

export interface SizeLimits {
  maxEpochs: number;
  maxSampleEpochs: number;
  maxModelMacs: number;
}

const DEFAULT_SAMPLES: Record<string, number> = { 'builtin:mnist': 10_000, 'builtin:synthetic': 5000 };

/**
 * The server's limits on what one job may cost, as problems naming the field. Run on a spec that
 * already passed the engine's checks. Uploaded datasets have no size known here and count by epochs only.
 */
export function jobSizeProblems(spec: EngineSpec, limits: SizeLimits): { field: string; message: string }[] {
  const resolved = withDefaults(spec);
  const facts = builtinFacts(spec.dataset);
  const samples = spec.dataset.limit?.train ?? spec.dataset.options?.samples ?? DEFAULT_SAMPLES[spec.dataset.source];
  const trained: [string, ModelSpec, number][] = [];
  if (resolved.teacher && 'model' in resolved.teacher) trained.push(['teacher', resolved.teacher.model, resolved.teacher.training.epochs]);
  trained.push(['student', resolved.student.model, resolved.student.training.epochs]);
  const problems: { field: string; message: string }[] = [];
  let sampleEpochs = 0;
  for (const [role, model, epochs] of trained) {
    if (epochs > limits.maxEpochs) problems.push({ field: `/${role}/training/epochs`, message: `must be <= ${limits.maxEpochs} (the server's MAX_EPOCHS)` });
    sampleEpochs += (samples ?? 0) * epochs * (role === 'student' && resolved.distillation.baseline ? 2 : 1);
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
