/**
 * The `distillation` part of a job spec: which knowledge is transferred (logits, hints, attention
 * maps), from which layers, with which weights, and how temperature and α change over the epochs.
 */
import Type, { type Static } from 'typebox';

const strict = { additionalProperties: false } as const;

/** A value constant over the epochs, or moving linearly from `from` (first epoch) to `to` (last). */
function ScheduleSchema(bounds: { minimum?: number; exclusiveMinimum?: number; maximum?: number }, description: string, fallback: number) {
  return Type.Union([Type.Number(bounds), Type.Object({ from: Type.Number(bounds), to: Type.Number(bounds) }, strict)], {
    description: `${description} A number, or {from, to} for a linear change from the first epoch to the last. Default: ${fallback}.`,
    default: fallback,
  });
}
export type Schedule = number | { from: number; to: number };

/** The value of a schedule in epoch `epoch` (1-based) of `epochs`. */
export function scheduleAt(s: Schedule, epoch: number, epochs: number): number {
  if (typeof s === 'number') return s;
  if (epochs <= 1) return s.from;
  return s.from + ((s.to - s.from) * (epoch - 1)) / (epochs - 1);
}

const LayerName = (who: string) =>
  Type.String({
    minLength: 1,
    maxLength: 64,
    description: `Name of a layer of the ${who}: a layer's \`name\`, a preset's layer name (e.g. conv1, hidden1), or the default <role>_<index>_<type> (e.g. ${who}_0_conv2d).`,
  });

export const LayerPairSchema = Type.Object(
  {
    student: LayerName('student'),
    teacher: LayerName('teacher'),
    teacher_index: Type.Optional(Type.Integer({ minimum: 0, maximum: 7, description: 'Which of `teachers` (0-based) holds the teacher layer. Default: 0.' })),
    weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000, description: 'Weight of this pair within its term. Default: 1.' })),
  },
  strict,
);
export type LayerPair = Static<typeof LayerPairSchema>;

const pairsAndBeta = (what: string, beta: string) =>
  Type.Object(
    {
      pairs: Type.Array(LayerPairSchema, { minItems: 1, maxItems: 8, description: `Student and teacher layers whose ${what} are matched.` }),
      beta: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6, description: `Weight β of the term. Default: 1. ${beta}` })),
    },
    strict,
  );

export const HintSpecSchema = pairsAndBeta(
  'activations',
  'Term: Σ weight·mean((P(student) − teacher)²), P a learned projection: dense for vectors (a feature map paired with a vector is flattened), a 1×1 convolution for feature maps of the same height and width.',
);
export const AttentionSpecSchema = pairsAndBeta(
  'spatial attention maps (channel-wise sum of squares, flattened, L2-normalised)',
  "Term: Σ weight·mean over the batch of ‖a_s − a_t‖₂. Both layers must output feature maps [h,w,c]; a teacher map of another height or width is resized bilinearly (half-pixel centres) to the student's before normalising.",
);
export type HintSpec = Static<typeof HintSpecSchema>;

export const METHODS = ['logits', 'hint', 'attention'] as const;
export type Method = (typeof METHODS)[number];

export const DistillationSpecSchema = Type.Object(
  {
    temperature: Type.Optional(ScheduleSchema({ exclusiveMinimum: 0, maximum: 100 }, 'Softmax temperature T.', 4)),
    alpha: Type.Optional(ScheduleSchema({ minimum: 0, maximum: 1 }, 'Weight α of the soft-target term; (1-α) weighs the hard labels.', 0.9)),
    baseline: Type.Optional(
      Type.Boolean({ description: 'Also train the student on hard labels only, same budget, for comparison. Default: false.', default: false }),
    ),
    method: Type.Optional(
      Type.Array(Type.Union([Type.Literal('logits'), Type.Literal('hint'), Type.Literal('attention')]), {
        minItems: 1,
        maxItems: 3,
        uniqueItems: true,
        description:
          "What knowledge is transferred, combinable. logits: Hinton soft targets; hint: FitNets hints (needs `hint`); attention: attention transfer (needs `attention`). Without logits the student learns from the hard labels (weight 1) plus the other terms. Default: ['logits'].",
      }),
    ),
    hint: Type.Optional(HintSpecSchema),
    attention: Type.Optional(AttentionSpecSchema),
    teacher_weights: Type.Optional(
      Type.Array(Type.Number({ minimum: 0, maximum: 1000 }), {
        minItems: 1,
        maxItems: 8,
        description: "With `teachers`: one weight per teacher; soft targets are the weighted mean of the teachers' softmax(logits/T). Default: equal weights.",
      }),
    ),
    soft_targets: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('cached'), Type.Literal('per_batch')], {
        description:
          'cached: teacher outputs computed once (logits, and the hint/attention targets while they fit in 256 MiB, else every teacher output per batch); per_batch: teachers run on every batch (the textbook loop). Default: auto (as cached: no augmentation changes inputs).',
        default: 'auto',
      }),
    ),
  },
  strict,
);
export type DistillationSpec = Static<typeof DistillationSpecSchema>;

/** Every default filled in. hint, attention and teacher_weights appear only when given. */
export interface ResolvedDistillation {
  temperature: Schedule;
  alpha: Schedule;
  baseline: boolean;
  method: Method[];
  soft_targets: 'auto' | 'cached' | 'per_batch';
  hint?: ResolvedFeatureTransfer;
  attention?: ResolvedFeatureTransfer;
  teacher_weights?: number[];
}
export interface ResolvedFeatureTransfer {
  pairs: Array<Required<LayerPair>>;
  beta: number;
}

export const DEFAULT_DISTILLATION = { temperature: 4, alpha: 0.9, baseline: false, method: ['logits'], soft_targets: 'auto' } satisfies ResolvedDistillation;

export function resolveDistillation(d: DistillationSpec | undefined): ResolvedDistillation {
  const { hint, attention, ...rest } = d ?? {};
  const transfer = (t: HintSpec): ResolvedFeatureTransfer => ({
    pairs: t.pairs.map((p) => ({ student: p.student, teacher: p.teacher, teacher_index: p.teacher_index ?? 0, weight: p.weight ?? 1 })),
    beta: t.beta ?? 1,
  });
  return {
    ...DEFAULT_DISTILLATION,
    method: [...DEFAULT_DISTILLATION.method] as Method[],
    ...rest,
    ...(hint ? { hint: transfer(hint) } : {}),
    ...(attention ? { attention: transfer(attention) } : {}),
  } as ResolvedDistillation;
}

/** True when a job uses anything beyond one teacher's logits at a constant temperature and α. */
export function usesExtendedDistillation(d: ResolvedDistillation, teachers: number): boolean {
  return teachers > 1 || d.method.some((m) => m !== 'logits') || typeof d.temperature !== 'number' || typeof d.alpha !== 'number';
}
