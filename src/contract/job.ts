import Type, { type Static } from 'typebox';
import { component, nullable } from './component.js';
import { EngineSpecObject } from './engine-spec.js';
import { BackendName, JobStatus, Phase } from './enums.js';
import { Report } from './report.js';

export const Priority = Type.Enum(['low', 'normal', 'high']);

export const JobProgress = component(
  'JobProgress',
  Type.Object(
    {
      epoch: nullable(Type.Integer({ minimum: 0 })),
      epochs: nullable(Type.Integer({ minimum: 0 })),
      step: nullable(Type.Integer({ minimum: 0 })),
      steps: nullable(Type.Integer({ minimum: 0 })),
      percent: Type.Number({ minimum: 0, maximum: 100 }),
      eta_seconds: nullable(Type.Integer({ minimum: 0 })),
    },
    {
      additionalProperties: false,
      description:
        'First-class progress. `epoch`/`epochs` and `step`/`steps` count within the current training phase (0\noutside training; null before the job started). `percent` covers the whole job, all phases, weighted by\ntheir estimated compute; `eta_seconds` is null until there is a rate to go by.\n',
    },
  ),
);
export type JobProgress = Static<typeof JobProgress>;

/** Stable codes of a failed job's `error` (openapi.yaml's JobError describes each). */
export const JOB_ERROR_CODES = [
  'timeout',
  'worker_crashed',
  'worker_unavailable',
  'database_unavailable',
  'worker_lost',
  'internal_error',
  'diverged',
  'memory_limit_exceeded',
  'invalid_spec',
  'model_not_found',
  'model_unreadable',
  'model_shape_mismatch',
  'export_unsupported',
  'bad_checkpoint',
  'unknown_source',
  'idx_bad_magic',
  'idx_truncated',
  'count_mismatch',
  'csv_non_numeric',
  'csv_bad_header',
  'csv_ragged_row',
  'csv_bad_label',
  'csv_not_text',
  'too_many_classes',
  'empty',
  'one_class',
  'non_finite',
  'shape_mismatch',
] as const;

export const JobError = component(
  'JobError',
  Type.Object(
    {
      code: Type.Enum([...JOB_ERROR_CODES]),
      message: Type.String({ description: 'For humans; names the file, row, value or field at fault.' }),
      name: Type.Optional(Type.String({ description: "Engine failures only: the engine's error class (`DataError`, `SpecError`, `ModelError`, …)." })),
    },
    {
      additionalProperties: false,
      description: `Why a job failed. \`code\` is stable:

| code | meaning |
|------|---------|
| \`timeout\` | the job ran longer than its \`max_runtime_seconds\` |
| \`worker_crashed\` | the training process died (e.g. killed, out of memory) on the last attempt |
| \`worker_unavailable\` | the attempt stopped before it finished on the last attempt |
| \`database_unavailable\` | the worker could not record progress in Postgres for \`DB_RETRY_SECONDS\` on the last attempt |
| \`worker_lost\` | the queue gave up on the job without a worker recording it (stalled too many times) |
| \`internal_error\` | an unexpected error in the engine |
| \`invalid_spec\` | the spec cannot run on this data (checked once the data is loaded) |
| \`model_not_found\`, \`model_unreadable\`, \`model_shape_mismatch\` | the given teacher model (\`model_id\`) is missing, unreadable or does not fit the data |
| \`export_unsupported\` | the trained model has a layer the requested \`export\` cannot write |
| \`bad_checkpoint\` | the checkpoint a retry resumes from is unreadable or was taken by another spec |
| \`unknown_source\` | the dataset source cannot be resolved |
| \`idx_bad_magic\`, \`idx_truncated\`, \`count_mismatch\` | an IDX dataset file is malformed |
| \`csv_non_numeric\`, \`csv_bad_header\`, \`csv_ragged_row\`, \`csv_bad_label\`, \`csv_not_text\` | a CSV dataset file is malformed (or not text: a dataset stored before uploads were checked for it) |
| \`too_many_classes\` | the dataset has more classes than the loaders allow |
| \`empty\`, \`one_class\`, \`non_finite\`, \`shape_mismatch\` | the data cannot be used as given |
| \`diverged\` | training diverged: a loss became NaN or infinite (e.g. a learning rate far too high); no model is registered |
| \`memory_limit_exceeded\` | the training process needed more memory than the worker's \`WORKER_MEMORY_BUDGET_MB\` (jobs estimated above it are refused at submit; this is the cap for an underestimate) |

Engine codes (data, spec, model, \`diverged\`, \`memory_limit_exceeded\`) are never retried: another attempt would fail the same way.
\`message\` is written for a person: it never holds a server path, a stack or a dependency's raw error (those are in the worker's log).
`,
    },
  ),
);
export type JobError = Static<typeof JobError>;

export const Job = component(
  'Job',
  Type.Object(
    {
      id: Type.String({ pattern: '^job_[0-9a-z]{26}$', description: 'Time-sortable: newer jobs have greater ids.' }),
      object: Type.Literal('job'),
      name: nullable(Type.String()),
      status: JobStatus,
      phase: nullable(Phase, { description: 'The current (or, for a failed or cancelled job, the last) phase; null before the first and after success.' }),
      priority: Priority,
      progress: JobProgress,
      attempts: Type.Integer({ minimum: 0, description: 'Attempts started so far (a retry after a crash is the 2nd).' }),
      backend: nullable(BackendName, { description: 'The backend the latest attempt trains on; null before it started.' }),
      spec: EngineSpecObject,
      metadata: Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' } }),
      max_runtime_seconds: nullable(Type.Integer({ minimum: 1 })),
      webhook: nullable(Type.Object({ url: Type.String() }, { additionalProperties: false }), {
        description: 'The webhook target (its secret is never returned).',
      }),
      result: nullable(Report, { description: 'The report of a succeeded job; null otherwise.' }),
      error: nullable(JobError, { description: 'Why the job failed; null otherwise.' }),
      last_event_seq: Type.Integer({ minimum: 0, description: "`seq` of the job's newest event." }),
      created_at: Type.String({ format: 'date-time' }),
      updated_at: Type.String({ format: 'date-time' }),
      started_at: nullable(Type.String({ format: 'date-time' })),
      finished_at: nullable(Type.String({ format: 'date-time' })),
    },
    { additionalProperties: false, description: 'A distillation job, as every job route returns it.' },
  ),
);
export type Job = Static<typeof Job>;

/** DELETE /v1/jobs/{id}: the models that went with the job, and those kept because other jobs name them. */
export const JobDeleted = component(
  'JobDeleted',
  Type.Object(
    {
      id: Type.String(),
      object: Type.Literal('job'),
      deleted: Type.Literal(true),
      deleted_models: Type.Array(Type.String(), { description: 'The models the job registered that were deleted with it.' }),
      kept_models: Type.Array(
        Type.Object({ id: Type.String(), used_by: Type.Array(Type.String(), { description: 'The jobs that name it.' }) }, { additionalProperties: false }),
        { description: 'The models the job registered that other jobs name as a teacher, kept as standalone models.' },
      ),
    },
    { additionalProperties: false },
  ),
);
export type JobDeleted = Static<typeof JobDeleted>;
