/**
 * The job spec: what to distil, from what, into what. TypeBox schemas are plain JSON Schema so the
 * HTTP layer validates bodies with them (ajv) and publishes them in OpenAPI; `checkSpec` adds what a
 * schema cannot say, and `withDefaults` fills in every documented default.
 */
import Type, { type Static } from 'typebox';
import { BUILTIN } from '../contract/builtin-datasets.js';
import { DistillationSpecSchema, resolveDistillation, type ResolvedDistillation } from './spec-distillation.js';
import { ExportSpecSchema, resolveExport, type ResolvedExport } from './spec-export.js';

export { DistillationSpecSchema, DEFAULT_DISTILLATION, type DistillationSpec, type ResolvedDistillation } from './spec-distillation.js';

const PositiveInt = (description: string, extra: object = {}) => Type.Integer({ minimum: 1, description, ...extra });
const Size2 = (description: string) =>
  Type.Union([Type.Integer({ minimum: 1 }), Type.Array(Type.Integer({ minimum: 1 }), { minItems: 2, maxItems: 2 })], {
    description,
  });
const strict = { additionalProperties: false } as const;
const layerName = {
  name: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z][A-Za-z0-9_-]*$',
      maxLength: 64,
      description:
        'Layer name, unique in the model: how distillation.hint / attention pairs refer to it, and its name in model.json. Default: <role>_<index>_<type>, e.g. student_0_conv2d, teacher_2_dense (presets name their layers, e.g. conv1, hidden1, logits).',
    }),
  ),
};

export const InputShapeSchema = Type.Array(Type.Integer({ minimum: 1, maximum: 4096 }), {
  minItems: 1,
  maxItems: 3,
  description:
    "Shape of one input sample as this model reads it, e.g. [784] or [16,16,1]. Default: the dataset's shape. " +
    'When it differs from the dataset, images are resized bilinearly (a flat vector whose length is a square is read as a one-channel image).',
});

export const ActivationSchema = Type.Union(
  [
    Type.Literal('linear'),
    Type.Literal('relu'),
    Type.Literal('relu6'),
    Type.Literal('elu'),
    Type.Literal('selu'),
    Type.Literal('sigmoid'),
    Type.Literal('tanh'),
    Type.Literal('softplus'),
    Type.Literal('softmax'),
    Type.Literal('swish'),
  ],
  { description: 'Activation function. Default: linear.' },
);
export type Activation = Static<typeof ActivationSchema>;

const Padding = Type.Union([Type.Literal('valid'), Type.Literal('same')], { description: 'Default: valid.' });

export const DenseLayerSchema = Type.Object(
  {
    type: Type.Literal('dense'),
    ...layerName,
    units: PositiveInt('Output units.', { maximum: 65536 }),
    activation: Type.Optional(ActivationSchema),
    use_bias: Type.Optional(Type.Boolean({ description: 'Default: true.' })),
  },
  strict,
);
export const Conv2dLayerSchema = Type.Object(
  {
    type: Type.Literal('conv2d'),
    ...layerName,
    filters: PositiveInt('Output channels.', { maximum: 4096 }),
    kernel_size: Size2('Kernel height and width (one number for a square kernel).'),
    strides: Type.Optional(Size2('Default: 1.')),
    padding: Type.Optional(Padding),
    activation: Type.Optional(ActivationSchema),
  },
  strict,
);
const poolFields = {
  ...layerName,
  pool_size: Type.Optional(Size2('Default: 2.')),
  strides: Type.Optional(Size2('Default: pool_size.')),
  padding: Type.Optional(Padding),
};
export const MaxPooling2dLayerSchema = Type.Object({ type: Type.Literal('maxPooling2d'), ...poolFields }, strict);
export const AveragePooling2dLayerSchema = Type.Object({ type: Type.Literal('averagePooling2d'), ...poolFields }, strict);
export const FlattenLayerSchema = Type.Object({ type: Type.Literal('flatten'), ...layerName }, strict);
export const DropoutLayerSchema = Type.Object(
  {
    type: Type.Literal('dropout'),
    ...layerName,
    rate: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Fraction of units dropped while training.' }),
  },
  strict,
);
export const BatchNormalizationLayerSchema = Type.Object(
  {
    type: Type.Literal('batchNormalization'),
    ...layerName,
    momentum: Type.Optional(
      Type.Number({ minimum: 0, exclusiveMaximum: 1, description: "Moving-average momentum. Default: 0.9 (Keras' 0.99 converges too slowly for short jobs)." }),
    ),
    epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Default: 0.001.' })),
  },
  strict,
);
export const ActivationLayerSchema = Type.Object({ type: Type.Literal('activation'), ...layerName, activation: ActivationSchema }, strict);

export const LayerSpecSchema = Type.Union([
  DenseLayerSchema,
  Conv2dLayerSchema,
  MaxPooling2dLayerSchema,
  AveragePooling2dLayerSchema,
  FlattenLayerSchema,
  DropoutLayerSchema,
  BatchNormalizationLayerSchema,
  ActivationLayerSchema,
]);
export type LayerSpec = Static<typeof LayerSpecSchema>;

export const PRESETS = ['hinton-teacher', 'hinton-student', 'cnn-teacher', 'cnn-student', 'mlp-tiny', 'linear'] as const;
export type PresetName = (typeof PRESETS)[number];

export const PresetModelSchema = Type.Object(
  {
    preset: Type.Union(
      [
        Type.Literal('hinton-teacher'),
        Type.Literal('hinton-student'),
        Type.Literal('cnn-teacher'),
        Type.Literal('cnn-student'),
        Type.Literal('mlp-tiny'),
        Type.Literal('linear'),
      ],
      {
        description:
          'hinton-teacher: 784-1200-1200-classes with dropout; hinton-student: 784-800-800-classes; cnn-teacher / cnn-student: small convnets; mlp-tiny: one hidden layer of 32; linear: softmax regression. ' +
          'Layer names: hinton-teacher input_dropout, hidden1, dropout1, hidden2, dropout2, logits; hinton-student hidden1, hidden2, logits; ' +
          'cnn-teacher conv1, pool1, conv2, pool2, flatten, dropout, hidden, logits; cnn-student conv1, pool1, conv2, pool2, flatten, logits; ' +
          'mlp-tiny hidden, logits; linear logits (a model reading images starts with a layer named flatten, except the CNNs).',
      },
    ),
    input_shape: Type.Optional(InputShapeSchema),
  },
  strict,
);
export const LayersModelSchema = Type.Object(
  {
    layers: Type.Array(LayerSpecSchema, { minItems: 1, maxItems: 64, description: 'Layers in order; the last one outputs one logit per class.' }),
    input_shape: Type.Optional(InputShapeSchema),
  },
  strict,
);
export const ModelSpecSchema = Type.Union([PresetModelSchema, LayersModelSchema]);
export type ModelSpec = Static<typeof ModelSpecSchema>;

export const TrainingSpecSchema = Type.Object(
  {
    epochs: Type.Optional(PositiveInt('Passes over the training split. Default: 5.', { maximum: 1000, default: 5 })),
    batch_size: Type.Optional(PositiveInt('Samples per step. Default: 128.', { maximum: 65536, default: 128 })),
    optimizer: Type.Optional(
      Type.Union([Type.Literal('sgd'), Type.Literal('momentum'), Type.Literal('adam')], { description: 'Default: adam (momentum uses 0.9).', default: 'adam' }),
    ),
    learning_rate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10, description: 'Default: 0.001.', default: 0.001 })),
  },
  strict,
);
export type TrainingSpec = Static<typeof TrainingSpecSchema>;

export const SyntheticOptionsSchema = Type.Object(
  {
    classes: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000, description: 'Default: 10.' })),
    features: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'Length of a flat sample. Default: 32. Ignored when shape is given.' })),
    shape: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), { minItems: 1, maxItems: 3, description: 'Sample shape, e.g. [8,8,1].' })),
    samples: Type.Optional(Type.Integer({ minimum: 2, maximum: 1000000, description: 'Total samples before splitting. Default: 5000.' })),
    difficulty: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Class overlap, 0 (separable) to 1 (mostly noise). Default: 0.5.' })),
    clusters_per_class: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 64,
        description: 'Gaussian clusters per class; classes share neighbourhoods, so soft targets carry information. Default: 3.',
      }),
    ),
    seed: Type.Optional(Type.Integer({ minimum: 0, description: 'Seed of the generated task (not of the split). Default: 0.' })),
  },
  strict,
);
export type SyntheticOptions = Static<typeof SyntheticOptionsSchema>;

export const DatasetSpecSchema = Type.Object(
  {
    source: Type.Union(
      [
        Type.Literal(BUILTIN.mnist),
        Type.Literal(BUILTIN.synthetic),
        Type.String({ minLength: 1, maxLength: 200, description: 'An uploaded dataset id (ds_…).' }),
      ],
      {
        description: `'${BUILTIN.mnist}' (10,000 real digits, 28×28×1), '${BUILTIN.synthetic}' (generated), or an uploaded dataset id.`,
      },
    ),
    options: Type.Optional(SyntheticOptionsSchema),
    limit: Type.Optional(
      Type.Object(
        {
          train: Type.Optional(Type.Integer({ minimum: 1, description: 'Use at most this many training samples (a transfer set), after the split.' })),
          test: Type.Optional(Type.Integer({ minimum: 1, description: 'Use at most this many test samples.' })),
        },
        strict,
      ),
    ),
    validation_fraction: Type.Optional(
      Type.Number({ minimum: 0, maximum: 0.5, description: 'Share of the training split held out for validation. Default: 0.1.', default: 0.1 }),
    ),
    test_fraction: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 0.5,
        description: 'Share held out for testing when the source has no test files. Default: 0.2.',
        default: 0.2,
      }),
    ),
  },
  strict,
);
export type DatasetSpec = Static<typeof DatasetSpecSchema>;

export const MAX_TEACHERS = 8;
/** A job's k-th teacher by name: its layers' default names, checkpoints, artifacts and models use it. */
export const teacherKey = (k: number) => (k === 0 ? 'teacher' : `teacher${k}`);
/** Every teacher name a job can have: teacher, teacher1 … teacher7. */
export const TEACHER_KEYS = Array.from({ length: MAX_TEACHERS }, (_, k) => teacherKey(k));

export const TeacherSpecSchema = Type.Union([
  Type.Object({ model: ModelSpecSchema, training: Type.Optional(TrainingSpecSchema) }, strict),
  Type.Object(
    {
      model_id: Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'A stored model (mdl_…: a tfjs layers model, or an ONNX model whose logits are distilled) used as the teacher, untrained here.',
      }),
    },
    strict,
  ),
]);
export type TeacherSpec = Static<typeof TeacherSpecSchema>;

export const StudentSpecSchema = Type.Object({ model: ModelSpecSchema, training: Type.Optional(TrainingSpecSchema) }, strict);
export type StudentSpec = Static<typeof StudentSpecSchema>;

export const EngineSpecSchema = Type.Object(
  {
    dataset: DatasetSpecSchema,
    teacher: Type.Optional(TeacherSpecSchema),
    teachers: Type.Optional(
      Type.Array(TeacherSpecSchema, {
        minItems: 1,
        maxItems: MAX_TEACHERS,
        description:
          'Several teachers instead of `teacher`, each given like `teacher`, all with one output per class: soft targets are their (weighted, see distillation.teacher_weights) mean.',
      }),
    ),
    student: StudentSpecSchema,
    distillation: Type.Optional(DistillationSpecSchema),
    export: Type.Optional(ExportSpecSchema),
    seed: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 4294967295, description: 'Seeds splits, shuffles, initializers and dropout. Default: 42.', default: 42 }),
    ),
  },
  strict,
);
export type EngineSpec = Static<typeof EngineSpecSchema>;

/** Every default filled in: what a job actually runs, and what the report echoes. */
export type ResolvedTraining = Required<TrainingSpec>;
export type ResolvedTeacher = { model: ModelSpec; training: ResolvedTraining } | { model_id: string };
export interface ResolvedSpec {
  dataset: DatasetSpec & { validation_fraction: number; test_fraction: number };
  /** Exactly one of teacher and teachers, as the job gave it. */
  teacher?: ResolvedTeacher;
  teachers?: ResolvedTeacher[];
  student: { model: ModelSpec; training: ResolvedTraining };
  distillation: ResolvedDistillation;
  /** Only when the job gave `export` (so the resolved spec, and its checkpoint key, of other jobs is unchanged). */
  export?: ResolvedExport;
  seed: number;
}

export const DEFAULT_TRAINING: ResolvedTraining = { epochs: 5, batch_size: 128, optimizer: 'adam', learning_rate: 0.001 };

export function withDefaults(spec: EngineSpec): ResolvedSpec {
  const resolveTeacher = (t: TeacherSpec): ResolvedTeacher =>
    'model_id' in t ? { model_id: t.model_id } : { model: t.model, training: { ...DEFAULT_TRAINING, ...t.training } };
  return {
    dataset: { ...spec.dataset, validation_fraction: spec.dataset.validation_fraction ?? 0.1, test_fraction: spec.dataset.test_fraction ?? 0.2 },
    ...(spec.teacher ? { teacher: resolveTeacher(spec.teacher) } : {}),
    ...(spec.teachers ? { teachers: spec.teachers.map(resolveTeacher) } : {}),
    student: { model: spec.student.model, training: { ...DEFAULT_TRAINING, ...spec.student.training } },
    distillation: resolveDistillation(spec.distillation),
    ...(spec.export ? { export: resolveExport(spec.export) } : {}),
    seed: spec.seed ?? 42,
  };
}

/** The job's teachers in order: `teachers`, or the one `teacher`. */
export function teacherList(spec: Pick<ResolvedSpec, 'teacher' | 'teachers'>): ResolvedTeacher[] {
  return spec.teachers ?? (spec.teacher ? [spec.teacher] : []);
}

/** JSON-Schema problems of a value, judged against the branch of each union it was evidently trying. */
export { schemaProblems } from './schema-problems.js';

/** The engine's part of a job body: drops the fields only the job service reads (name, metadata, …). */
export function pickEngineSpec(body: unknown): EngineSpec {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new TypeError('the job spec must be a JSON object');
  const fields = Object.keys(EngineSpecSchema.properties);
  const picked = Object.entries(body as Record<string, unknown>).filter(([k, v]) => fields.includes(k) && v !== undefined);
  return Object.fromEntries(picked) as unknown as EngineSpec;
}
