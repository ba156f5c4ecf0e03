import Type, { type Static, type TOptional, type TUnknown } from 'typebox';
import { ArtifactFile, ArtifactKind } from '../../contract/index.js';
import { type EngineSpec, EngineSpecSchema } from '../../ml/tfjs-free.js';
import { JOB_STATUSES } from '../../jobs/status.js';

/**
 * The job body as HTTP sees it. The engine's part (dataset, teacher, student, distillation, seed) is
 * checked by the engine's own `checkSpec`, which names the deepest field at fault; this schema checks
 * the job-level fields around it.
 */
export const JobCreateBody = Type.Object(
  {
    // Every field of the engine's spec is accepted here and checked by checkSpec.
    ...(Object.fromEntries(Object.keys(EngineSpecSchema.properties).map((k) => [k, Type.Optional(Type.Unknown())])) as Record<
      keyof EngineSpec,
      TOptional<TUnknown>
    >),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    metadata: Type.Optional(
      Type.Unsafe<Record<string, string>>({
        type: 'object',
        maxProperties: 16,
        propertyNames: { minLength: 1, maxLength: 64 },
        additionalProperties: { type: 'string', maxLength: 512 },
        description: 'At most 16 string pairs: keys of 1-64 characters, values of at most 512.',
      }),
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
    // Sequence numbers are Postgres integers.
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    /** A WebSocket ticket (POST /v1/ws-tickets), read by auth before the upgrade. */
    ticket: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const ArtifactParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  kind: ArtifactKind,
  file: ArtifactFile,
});
