/**
 * A job's peak memory in its training process, estimated from the spec alone (no tfjs: the API calls
 * this for every submission). Each part names the spec field that makes it big, so a job over the
 * budget is refused naming that field. The constants are fitted to measured peaks on wasm
 * (bench/memory-estimate.ts; bench/RESULTS.md, "Memory estimate").
 */
import { BUILTIN } from '../contract/builtin-datasets.js';
import { modelInputShape, modelLayers } from './models/presets.js';
import { walkLayers } from './models/shapes.js';
import { teacherList, withDefaults, type EngineSpec, type ModelSpec, type ResolvedTraining } from './spec.js';

/** Above this, teacher outputs are computed per batch instead of cached: 256 MiB of float32. */
export const TARGET_CACHE_BYTES = 256 * 1024 * 1024;

const MiB = 2 ** 20;
const F32 = 4;
/** Node, tfjs and the wasm module before any job data: measured resident set of an idle child. */
export const BASE_BYTES = 205 * MiB;
/** builtin:mnist: its JSON files are parsed into number arrays once per process. */
const MNIST_PARSE_BYTES = 70 * MiB;
/** Tensors alive per layer output during a training step (forward values kept for the backward pass, their gradients, fused ops' temporaries). */
const TRAIN_ACTIVATION_COPIES = 6;
/** Growth of the wasm and JS heaps beyond the bytes alive: they grow in steps and do not shrink. */
const HEAP_SLACK = 2;
/** A built model (layers, kernels, its share of compiled code) before its weights. */
const MODEL_BYTES = 8 * MiB;
/** Optimizer slots per weight. */
const OPTIMIZER_SLOTS: Record<ResolvedTraining['optimizer'], number> = { sgd: 0, momentum: 1, adam: 2 };
/** Batches of evaluation and of teacher passes (predictLogits, cachedTargets). */
const EVAL_BATCH = 512;

export interface GivenTeacherFacts {
  parameters: number;
  inputShape: number[];
  outputShape: number[];
}

export interface MemoryEstimateInput {
  spec: EngineSpec;
  /** An uploaded dataset: its sample shape, classes and sizes (builtins are described by the spec). */
  dataset?: { inputShape: number[]; classes: number; trainSamples: number; testSamples?: number };
  /** Teachers given by model id, by id (what the API knows from the model rows). */
  givenTeachers?: Record<string, GivenTeacherFacts>;
}

export interface MemoryPart {
  /** The JSON pointer of the spec field that sets this part's size. */
  field: string;
  /** What it is, for a person. */
  what: string;
  bytes: number;
}

export interface MemoryEstimate {
  bytes: number;
  parts: MemoryPart[];
}

interface ModelFacts {
  field: string;
  inputShape: number[];
  parameters: number;
  /** Values of every layer's output for one sample (the input excluded). */
  activations: number;
  training?: ResolvedTraining;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The estimate; `undefined` facts (an unknown dataset) count as nothing. */
export function estimateJobMemory(input: MemoryEstimateInput): MemoryEstimate {
  const spec = withDefaults(input.spec);
  const source = spec.dataset.source;
  const options = input.spec.dataset.options ?? {};
  const synthetic = source === BUILTIN.synthetic;
  const shape = input.dataset?.inputShape ?? (source === BUILTIN.mnist ? [28, 28, 1] : options.shape ? [...options.shape] : [options.features ?? 32]);
  const classes = input.dataset?.classes ?? (synthetic ? (options.classes ?? 10) : 10);
  const loaded = input.dataset ? input.dataset.trainSamples : source === BUILTIN.mnist ? 10_000 : (options.samples ?? 5000);
  const ownTest = input.dataset?.testSamples ?? 0;
  const dim = prod(shape);

  // The split: a held-out test set unless the dataset has its own, validation, then train (maybe limited).
  const testHeld = ownTest > 0 ? 0 : Math.max(1, Math.round(loaded * spec.dataset.test_fraction));
  const validation = Math.round((loaded - testHeld) * spec.dataset.validation_fraction);
  const train = Math.min(loaded - testHeld - validation, spec.dataset.limit?.train ?? Infinity);
  const test = Math.min(ownTest > 0 ? ownTest : testHeld, spec.dataset.limit?.test ?? Infinity);
  const kept = train + validation + test;

  const dataField = input.dataset
    ? '/dataset/source'
    : synthetic
      ? options.shape
        ? '/dataset/options/shape'
        : dim >= 1024 || options.samples === undefined
          ? '/dataset/options/features'
          : '/dataset/options/samples'
      : '/dataset/limit/train';
  const parts: MemoryPart[] = [];
  const add = (field: string, what: string, bytes: number) => {
    if (bytes > 0) parts.push({ field, what, bytes });
  };
  add('', 'the runtime (Node.js, TensorFlow.js)', BASE_BYTES);
  if (source === BUILTIN.mnist) add('/dataset/source', `reading ${BUILTIN.mnist}`, MNIST_PARSE_BYTES);
  // The loaded samples and the split copies (JS), the split as tensors (wasm), each with the slack of a
  // heap that grows in steps and is not given back.
  add(dataField, `the dataset (${loaded + ownTest} samples of ${dim} values, split and as tensors)`, HEAP_SLACK * F32 * dim * (loaded + ownTest + kept));
  if (synthetic) add('/dataset/options/clusters_per_class', "the synthetic task's cluster centres", F32 * dim * classes * (options.clusters_per_class ?? 3));

  const models: ModelFacts[] = [];
  const teachers = teacherList(spec);
  teachers.forEach((t, k) => {
    const at = spec.teachers ? `/teachers/${k}` : '/teacher';
    if ('model' in t) {
      const facts = specModelFacts(t.model, shape, classes, `${at}/model`, t.training);
      if (facts) models.push(facts);
      return;
    }
    const given = input.givenTeachers?.[t.model_id];
    // The weights of a stored model are read from storage, then built into a model: two copies.
    if (given)
      models.push({ field: `${at}/model_id`, inputShape: given.inputShape, parameters: 2 * given.parameters, activations: 4 * prod(given.inputShape) });
  });
  const student = specModelFacts(spec.student.model, shape, classes, '/student/model', spec.student.training);
  if (student) {
    models.push(student);
    if (spec.distillation.baseline) models.push({ ...student, field: '/distillation/baseline' });
  }

  // Each model reading another input shape gets its own copy of every split, resized once.
  const resized = new Map<string, ModelFacts>();
  for (const m of models)
    if (prod(m.inputShape) !== dim || m.inputShape.length !== shape.length) resized.set(m.inputShape.join('x'), resized.get(m.inputShape.join('x')) ?? m);
  for (const m of resized.values()) {
    const field = m.field.endsWith('/model') ? `${m.field}/input_shape` : m.field;
    // Resized in chunks, then joined: chunks and result are alive together once.
    add(field, `the samples resized to [${m.inputShape}]`, HEAP_SLACK * F32 * prod(m.inputShape) * kept);
  }
  // Weights, gradients and optimizer slots of every model: all live until the job ends.
  for (const m of models) {
    const slots = m.training ? 2 + OPTIMIZER_SLOTS[m.training.optimizer] : 1;
    add(m.field, `the weights${m.training ? ', gradients and optimizer state' : ''} of ${describe(m.field)}`, MODEL_BYTES + F32 * m.parameters * slots);
  }
  // One step at a time: the largest batch of activations of any model trained, or evaluated.
  let step: MemoryPart | undefined;
  for (const m of models) {
    const batch = m.training ? m.training.batch_size : EVAL_BATCH;
    const bytes = F32 * batch * ((m.training ? TRAIN_ACTIVATION_COPIES : 2) * m.activations + 2 * prod(m.inputShape));
    const field = m.training ? (m.field.endsWith('/model') ? m.field.replace(/\/model$/, '/training/batch_size') : m.field) : m.field;
    if (!step || bytes > step.bytes) step = { field, what: `one training step at batch size ${batch} of ${describe(m.field)}`, bytes };
  }
  if (step) parts.push(step);
  // The teachers' soft targets for the training split, cached when they fit the cache.
  const cache = F32 * train * classes * teachers.length;
  if (cache <= TARGET_CACHE_BYTES) add(spec.teachers ? '/teachers' : '/dataset/limit/train', 'the cached soft targets', 2 * cache);
  return { bytes: parts.reduce((s, p) => s + p.bytes, 0), parts };
}

/** The largest part but the runtime: what to change first. */
export function largestPart(estimate: MemoryEstimate): MemoryPart | undefined {
  return estimate.parts.filter((p) => p.field !== '').sort((a, b) => b.bytes - a.bytes)[0];
}

function specModelFacts(model: ModelSpec, datasetShape: number[], classes: number, field: string, training: ResolvedTraining): ModelFacts | undefined {
  const inputShape = modelInputShape(model, datasetShape);
  if (!inputShape) return undefined;
  const layers = modelLayers(model, inputShape, classes);
  const walk = walkLayers(layers, inputShape);
  let parameters = 0;
  let activations = 0;
  let shape = inputShape;
  layers.forEach((layer, i) => {
    const out = walk.shapes[i] ?? shape;
    if (layer.type === 'dense') parameters += (prod(shape) + 1) * layer.units;
    else if (layer.type === 'conv2d') {
      const k = typeof layer.kernel_size === 'number' ? [layer.kernel_size, layer.kernel_size] : (layer.kernel_size ?? [1, 1]);
      parameters += (k[0]! * (k[1] ?? k[0]!) * (shape[2] ?? 1) + 1) * layer.filters;
    } else if (layer.type === 'batchNormalization') parameters += 4 * (shape[shape.length - 1] ?? 1);
    if (layer.type !== 'flatten') activations += prod(out);
    shape = out;
  });
  return { field, inputShape, parameters, activations, training };
}

function describe(field: string): string {
  if (field.startsWith('/student')) return 'the student';
  if (field === '/distillation/baseline') return 'the baseline';
  const k = /^\/teachers\/(\d+)/.exec(field)?.[1];
  return k !== undefined ? `teacher ${k}` : 'the teacher';
}
