import Type, { type Static } from 'typebox';
import { JOB_STATUSES } from '../../jobs/status.js';

/**
 * The job body as HTTP sees it. The engine's part (dataset, teacher, student, distillation, seed) is
 * checked by the engine's own `checkSpec`, which names the deepest field at fault; this schema checks
 * the job-level fields around it.
 */
export const JobCreateBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    dataset: Type.Object({}, { additionalProperties: true }),
    teacher: Type.Object({}, { additionalProperties: true }),
    student: Type.Object({}, { additionalProperties: true }),
    distillation: Type.Optional(Type.Object({}, { additionalProperties: true })),
    seed: Type.Optional(Type.Integer()),
    metadata: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ maxLength: 512 }), { maxProperties: 16 }),
    ),
    priority: Type.Optional(Type.Enum(['low', 'normal', 'high'])),
    max_runtime_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
    webhook: Type.Optional(
      Type.Object(
        {
          url: Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://' }),
          secret: Type.String({ minLength: 8, maxLength: 256 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type JobCreateBody = Static<typeof JobCreateBody>;

// Any string: an id that is malformed answers 404 like one that does not exist.
export const JobIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export const ListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    status: Type.Optional(Type.Enum([...JOB_STATUSES])),
  },
  { additionalProperties: false },
);

export const EventsQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

export const ArtifactParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  kind: Type.Enum(['student', 'teacher', 'baseline', 'report']),
  file: Type.Enum(['model.json', 'weights.bin', 'report.json']),
});
