import Type, { type Static } from 'typebox';
import { component, described, nullable } from './component.js';
import { EngineSpecObject } from './engine-spec.js';
import { BackendName, Phase } from './enums.js';
import { ExportReport } from './export-report.js';
import type { PhaseName } from './phases.js';

const Share = Type.Number({ minimum: 0, maximum: 1 });

export const PerBatchSize = component(
  'PerBatchSize',
  Type.Object({ batch_1: Type.Number({ minimum: 0 }), batch_256: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
);

export const ModelReport = component(
  'ModelReport',
  Type.Object(
    {
      origin: Type.Enum(['trained', 'given'], { description: 'trained: in this job; given: loaded from `teacher.model_id`.' }),
      input_shape: Type.Array(Type.Integer({ minimum: 1 })),
      test_accuracy: Share,
      test_loss: nullable(Type.Number()),
      per_class_accuracy: Type.Array(
        Type.Object(
          {
            class: Type.String(),
            accuracy: nullable(Share, { description: 'Null when the test split holds no sample of the class.' }),
            support: Type.Integer({ minimum: 0 }),
          },
          { additionalProperties: false },
        ),
      ),
      parameters: Type.Integer({ minimum: 0 }),
      bytes: Type.Integer({ minimum: 0, description: 'model.json + weights.bin.' }),
      latency_ms_per_sample: described(PerBatchSize, 'Median milliseconds per sample at batch 1 and batch 256.'),
      history: Type.Array(
        Type.Object(
          {
            epoch: Type.Integer({ minimum: 1 }),
            train_loss: nullable(Type.Number()),
            train_accuracy: Share,
            val_loss: nullable(Type.Number()),
            val_accuracy: nullable(Share),
            seconds: Type.Number({ minimum: 0 }),
          },
          { additionalProperties: false },
        ),
        { description: 'One entry per training epoch (empty for a given model).' },
      ),
    },
    { additionalProperties: false },
  ),
);
export type ModelReport = Static<typeof ModelReport>;

export const DistillationReport = Type.Object(
  {
    methods: Type.Array(Type.Enum(['logits', 'hint', 'attention'])),
    teachers: Type.Integer({ minimum: 1 }),
    projection_parameters: Type.Integer({ minimum: 0, description: 'Weights of the hint projections, trained with the student and not part of it.' }),
    history: Type.Array(
      Type.Object(
        {
          epoch: Type.Integer({ minimum: 1 }),
          temperature: Type.Number(),
          alpha: Type.Number(),
          loss: nullable(Type.Number()),
          ce: nullable(Type.Number()),
          kd: Type.Optional(nullable(Type.Number())),
          hint: Type.Optional(nullable(Type.Number())),
          attention: Type.Optional(nullable(Type.Number())),
        },
        { additionalProperties: false, description: "One epoch's temperature, α, loss and each term before its weight." },
      ),
    ),
  },
  { additionalProperties: false, description: 'Jobs using hints, attention, several teachers or schedules: what the student learned from, per epoch.' },
);
export type DistillationReport = Static<typeof DistillationReport>;

export const Report = component(
  'Report',
  Type.Object(
    {
      backend: BackendName,
      compute: Type.Optional(
        Type.Object(
          { threads: Type.Integer({ minimum: 0 }), blas: nullable(Type.String()), adam: Type.Enum(['fused-native', 'fused-js', 'stock']) },
          {
            additionalProperties: false,
            description:
              'How the arithmetic ran: threads doing it (0: decided by libtensorflow), the OpenBLAS kernels serving the matmuls (wasm-blas; null elsewhere), and how Adam updated each variable.',
          },
        ),
      ),
      dataset: Type.Object(
        {
          source: Type.String(),
          input_shape: Type.Array(Type.Integer({ minimum: 1 })),
          classes: Type.Array(Type.String(), { description: 'Class names, in label order.' }),
          train_samples: Type.Integer({ minimum: 0 }),
          validation_samples: Type.Integer({ minimum: 0 }),
          test_samples: Type.Integer({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
      soft_targets: Type.Enum(['cached', 'per_batch'], { description: "How the teacher's soft targets were computed." }),
      teacher: described(ModelReport, 'The teacher (the first of `teachers`).'),
      teachers: Type.Optional(Type.Array(ModelReport, { description: 'With several teachers, each of them in order.' })),
      teacher_ensemble: Type.Optional(
        Type.Object(
          { test_accuracy: Share, weights: Type.Array(Type.Number({ minimum: 0 })) },
          { additionalProperties: false, description: 'With several teachers: their weighted mean of softmax outputs as one classifier.' },
        ),
      ),
      distillation: Type.Optional(DistillationReport),
      student: ModelReport,
      exports: Type.Optional(ExportReport),
      baseline: Type.Optional(described(ModelReport, 'The student architecture trained on hard labels only, same budget (with `distillation.baseline`).')),
      compression_ratio: Type.Number({ description: 'Teacher parameters / student parameters.' }),
      size_ratio: Type.Number({ description: 'Teacher bytes / student bytes.' }),
      speed_up: described(PerBatchSize, 'Teacher latency / student latency per sample.'),
      teacher_student_agreement: Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Share of test samples where teacher (with several: their ensemble) and student predict the same class.',
      }),
      distillation_gain: nullable(Type.Number(), { description: 'Student test accuracy minus baseline test accuracy (null without a baseline).' }),
      timings: Type.Unsafe<Partial<Record<PhaseName, number>>>({
        type: 'object',
        description: 'Seconds per phase of this run (a resumed run counts only its own).',
        propertyNames: Phase,
        additionalProperties: { type: 'number', minimum: 0 },
      }),
      elapsed_seconds: Type.Number({ minimum: 0 }),
      spec: described(EngineSpecObject, 'The spec the job ran, every default filled in.'),
    },
    {
      additionalProperties: false,
      description:
        "What each model scores on the test split, what it costs to keep and to run, and what distillation\nbought. The job's `result` and the `report/report.json` artifact.\n",
    },
  ),
);
export type Report = Static<typeof Report>;
