/**
 * What JSON Schema cannot say about a job: models that cannot be built on their input, outputs that
 * do not match the classes, options that do not fit the source. Problems name layer index and field.
 */
import { BUILTIN } from '../contract/builtin-datasets.js';
import { planAdapt } from './data/adapt-plan.js';
import { checkDistillation, type LayerTable } from './distill/check.js';
import type { SpecProblem } from './errors.js';
import { layerName, modelInputShape, modelLayers } from './models/presets.js';
import { walkLayers } from './models/shapes.js';
import { EngineSpecSchema, schemaProblems, type EngineSpec, type ModelSpec, type TeacherSpec } from './spec.js';

/** What is known about the dataset: from the spec for builtins, from the loaded data otherwise. */
export interface DatasetFacts {
  classes?: number;
  inputShape?: number[];
}

export function builtinFacts(dataset: EngineSpec['dataset']): DatasetFacts {
  if (dataset.source === BUILTIN.mnist) return { classes: 10, inputShape: [28, 28, 1] };
  if (dataset.source === BUILTIN.synthetic) {
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
  if (s.dataset.options && s.dataset.source !== BUILTIN.synthetic) {
    problems.push({ path: '/dataset/options', message: `options apply to ${BUILTIN.synthetic} only` });
  }
  if (s.dataset.options?.shape && s.dataset.options.features !== undefined) {
    problems.push({ path: '/dataset/options/features', message: 'give either features or shape, not both' });
  }
  const teachers: Array<[TeacherSpec, string]> = s.teachers ? s.teachers.map((t, k) => [t, `/teachers/${k}`]) : s.teacher ? [[s.teacher, '/teacher']] : [];
  if (!s.teacher && !s.teachers) problems.push({ path: '/teacher', message: 'give teacher (one model) or teachers (several)' });
  if (s.teacher && s.teachers) problems.push({ path: '/teachers', message: 'give either teacher or teachers, not both' });
  for (const [t, at] of teachers) if ('model' in t) problems.push(...checkModel(t.model, `${at}/model`, known));
  problems.push(...checkModel(s.student.model, '/student/model', known, 'student'));
  if (known.classes === undefined) problems.push(...checkTeacherOutputs(teachers, known));
  if (problems.length > 0) return problems;
  return checkDistillation(s.distillation, {
    student: layerTable(s.student.model, 'student', known),
    teachers: teachers.map(([t]) => ('model' in t ? layerTable(t.model, 'teacher', known) : undefined)),
  });
}

/** Without known classes, teachers built here must at least agree with each other. */
function checkTeacherOutputs(teachers: Array<[TeacherSpec, string]>, facts: DatasetFacts): SpecProblem[] {
  const outputs = teachers.map(([t]) => ('model' in t ? outputOf(t.model, facts) : undefined));
  const first = outputs.findIndex((o) => o !== undefined);
  return outputs.flatMap((o, k) =>
    o !== undefined && first >= 0 && o !== outputs[first]
      ? [
          {
            path: `${teachers[k]![1]}/model`,
            message: `teacher ${k} outputs ${o} values but teacher ${first} outputs ${outputs[first]}: every teacher needs one output per class`,
          },
        ]
      : [],
  );
}

function outputOf(model: ModelSpec, facts: DatasetFacts): number | undefined {
  if (!('layers' in model)) return undefined;
  const last = model.layers[model.layers.length - 1];
  if (last?.type === 'dense') return last.units; // whatever the input
  const inputShape = modelInputShape(model, facts.inputShape);
  const output = inputShape ? walkLayers(model.layers, inputShape).output : undefined;
  return output?.length === 1 ? output[0] : undefined;
}

/** Names and output shapes of a model's layers, as built (shapes unknown without an input shape). */
export function layerTable(model: ModelSpec, role: string, facts: DatasetFacts): LayerTable {
  const inputShape = modelInputShape(model, facts.inputShape);
  const layers = modelLayers(model, inputShape, facts.classes ?? 0);
  const shapes = inputShape ? walkLayers(layers, inputShape).shapes : [];
  const table: LayerTable = new Map(layers.map((l, i) => [layerName(l, i, role), shapes[i]]));
  // A preset's logits layer has one unit per class, known only with the classes.
  if ('preset' in model && facts.classes === undefined) table.set('logits', undefined);
  // A preset starts with a flatten layer only when it reads images: unknown without the input shape.
  if ('preset' in model && !inputShape) table.set('flatten', undefined);
  return table;
}

export function checkModel(model: ModelSpec, at: string, facts: DatasetFacts, role = 'teacher'): SpecProblem[] {
  const inputShape = modelInputShape(model, facts.inputShape);
  const classes = facts.classes ?? 2;
  const layers = modelLayers(model, inputShape, classes);
  const problems: SpecProblem[] = [];
  const names = layers.map((l, i) => layerName(l, i, role));
  names.forEach((name, i) => {
    const first = names.indexOf(name);
    if (first < i)
      problems.push({ path: `${at}/layers/${i}/name`, message: `layer name '${name}' is already used by layer ${first}: names must be unique in a model` });
  });
  if (!inputShape) {
    const needsImage = layers.findIndex((l) => l.type === 'conv2d' || l.type.endsWith('Pooling2d'));
    if (needsImage >= 0)
      problems.push({
        path: `${at}/layers/${needsImage}/type`,
        message: `${layers[needsImage]!.type} needs an image input: set ${at}/input_shape, e.g. [28,28,1]`,
      });
    return problems;
  }
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
      problems.push({
        path: `${at}/layers/${last}/type`,
        message: `the model must end in one logit per class, but outputs [${walk.output}]: end with flatten and dense`,
      });
    } else if (facts.classes !== undefined && walk.output[0] !== facts.classes) {
      const field = lastLayer.type === 'dense' ? 'units' : 'type';
      problems.push({
        path: `${at}/layers/${last}/${field}`,
        message: `the model outputs ${walk.output[0]} values but the dataset has ${facts.classes} classes`,
      });
    }
  }
  return problems;
}
