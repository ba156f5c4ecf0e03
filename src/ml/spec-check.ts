/**
 * What JSON Schema cannot say about a job: models that cannot be built on their input, outputs that
 * do not match the classes, options that do not fit the source. Problems name layer index and field.
 */
import { planAdapt } from './data/adapt.js';
import type { SpecProblem } from './errors.js';
import { modelInputShape, modelLayers } from './models/presets.js';
import { walkLayers } from './models/shapes.js';
import { EngineSpecSchema, schemaProblems, type EngineSpec, type ModelSpec } from './spec.js';

/** What is known about the dataset: from the spec for builtins, from the loaded data otherwise. */
export interface DatasetFacts {
  classes?: number;
  inputShape?: number[];
}

export function builtinFacts(dataset: EngineSpec['dataset']): DatasetFacts {
  if (dataset.source === 'builtin:mnist') return { classes: 10, inputShape: [28, 28, 1] };
  if (dataset.source === 'builtin:synthetic') {
    const o = dataset.options ?? {};
    return { classes: o.classes ?? 10, inputShape: o.shape ? [...o.shape] : [o.features ?? 32] };
  }
  return {};
}

export function checkSpec(spec: unknown, facts?: DatasetFacts): SpecProblem[] {
  const schema = schemaProblems(EngineSpecSchema, spec);
  if (schema.length > 0) return schema;
  const s = spec as EngineSpec;
  const known = { ...builtinFacts(s.dataset), ...facts };
  const problems: SpecProblem[] = [];
  if (s.dataset.options && s.dataset.source !== 'builtin:synthetic') {
    problems.push({ path: '/dataset/options', message: 'options apply to builtin:synthetic only' });
  }
  if (s.dataset.options?.shape && s.dataset.options.features !== undefined) {
    problems.push({ path: '/dataset/options/features', message: 'give either features or shape, not both' });
  }
  if ('model' in s.teacher) problems.push(...checkModel(s.teacher.model, '/teacher/model', known));
  problems.push(...checkModel(s.student.model, '/student/model', known));
  return problems;
}

export function checkModel(model: ModelSpec, at: string, facts: DatasetFacts): SpecProblem[] {
  const inputShape = modelInputShape(model, facts.inputShape);
  const classes = facts.classes ?? 2;
  const layers = modelLayers(model, inputShape, classes);
  if (!inputShape) {
    const needsImage = layers.findIndex((l) => l.type === 'conv2d' || l.type.endsWith('Pooling2d'));
    return needsImage >= 0
      ? [{ path: `${at}/layers/${needsImage}/type`, message: `${layers[needsImage]!.type} needs an image input: set ${at}/input_shape, e.g. [28,28,1]` }]
      : [];
  }
  const problems: SpecProblem[] = [];
  if (facts.inputShape && !planAdapt(facts.inputShape, inputShape)) {
    problems.push({
      path: `${at}/input_shape`,
      message: `dataset samples of shape [${facts.inputShape}] cannot be resized to [${inputShape}] (sizes and channels differ)`,
    });
  }
  const walk = walkLayers(layers, inputShape);
  const layerPath = (p: string) => ('layers' in model ? `${at}${p}` : `${at}/preset`);
  problems.push(...walk.problems.map((p) => ({ path: layerPath(p.path), message: p.message })));
  if (walk.output && 'layers' in model) {
    const last = layers.length - 1;
    const lastLayer = layers[last]!;
    if (walk.output.length !== 1) {
      problems.push({ path: `${at}/layers/${last}/type`, message: `the model must end in one logit per class, but outputs [${walk.output}]: end with flatten and dense` });
    } else if (facts.classes !== undefined && walk.output[0] !== facts.classes) {
      const field = lastLayer.type === 'dense' ? 'units' : 'type';
      problems.push({ path: `${at}/layers/${last}/${field}`, message: `the model outputs ${walk.output[0]} values but the dataset has ${facts.classes} classes` });
    }
  }
  return problems;
}
