import { BUILTIN } from '../contract/builtin-datasets.js';
import {
  builtinFacts,
  type DatasetFacts,
  type EngineSpec,
  estimateJobMemory,
  type GivenTeacherFacts,
  largestPart,
  modelInputShape,
  modelLayers,
  type ModelSpec,
  teacherList,
  walkLayers,
  withDefaults,
} from '../ml/tfjs-free.js';

export interface SizeLimits {
  maxEpochs: number;
  maxSampleEpochs: number;
  maxModelMacs: number;
  /** A training child's memory budget (WORKER_MEMORY_BUDGET_MB), in MiB. */
  memoryBudgetMb?: number;
}

export interface UploadedDataset {
  facts: DatasetFacts;
  /** Samples in its training set. */
  trainSamples: number;
  /** Samples in its own test set (0 or absent: the test set is held out of the training set). */
  testSamples?: number;
}

/** What a job names besides its spec: the uploaded dataset and the teachers given by id (by id). */
export interface JobReferences {
  dataset?: UploadedDataset;
  givenTeachers?: Record<string, GivenTeacherFacts>;
}

const DEFAULT_SAMPLES: Record<string, number> = { [BUILTIN.mnist]: 10_000, [BUILTIN.synthetic]: 5000 };

/**
 * The server's limits on what one job may cost, as problems naming the field. Run on a spec that
 * already passed the engine's checks. `uploaded` describes the uploaded dataset a job names (builtin
 * datasets are described by the spec itself).
 */
export function jobSizeProblems(spec: EngineSpec, limits: SizeLimits, refs: JobReferences = {}): { field: string; message: string }[] {
  const uploaded = refs.dataset;
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
      problems.push({
        field: `/${role}/model`,
        message: `the model needs ${macs} multiply-adds per sample, over the server's MAX_MODEL_MACS (${limits.maxModelMacs})`,
      });
    }
  }
  if (sampleEpochs > limits.maxSampleEpochs) {
    problems.push({
      field: '/dataset',
      message: `the job would train on ${sampleEpochs} sample-epochs, over the server's MAX_SAMPLE_EPOCHS (${limits.maxSampleEpochs}): use fewer epochs or dataset.limit.train`,
    });
  }
  if (limits.memoryBudgetMb !== undefined) problems.push(...memoryProblems(spec, limits.memoryBudgetMb, refs));
  return problems;
}

/** The job's estimated peak memory against the budget, naming the field of its largest part. */
function memoryProblems(spec: EngineSpec, budgetMb: number, refs: JobReferences): { field: string; message: string }[] {
  const estimate = estimateJobMemory({
    spec,
    ...(refs.dataset?.facts.inputShape
      ? {
          dataset: {
            inputShape: refs.dataset.facts.inputShape,
            classes: refs.dataset.facts.classes ?? 2,
            trainSamples: refs.dataset.trainSamples,
            testSamples: refs.dataset.testSamples ?? 0,
          },
        }
      : {}),
    ...(refs.givenTeachers ? { givenTeachers: refs.givenTeachers } : {}),
  });
  const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);
  if (mib(estimate.bytes) <= budgetMb) return [];
  const largest = largestPart(estimate);
  return [
    {
      field: largest?.field || '/',
      message:
        `the job would need about ${mib(estimate.bytes)} MiB of memory to train, over the server's WORKER_MEMORY_BUDGET_MB (${budgetMb} MiB)` +
        (largest ? `; the largest part is ${largest.what} (${mib(largest.bytes)} MiB)` : ''),
    },
  ];
}
