import Type, { type Static, type TSchema } from 'typebox';
import { component, described, nullable } from './component.js';
import { BackendName, JobStatus, ModelRole, Phase, TrainingPhase } from './enums.js';
import { JobError } from './job.js';

const Share = Type.Number({ minimum: 0, maximum: 1 });

export const EngineProgress = component(
  'EngineProgress',
  Type.Object(
    {
      epoch: Type.Integer({ minimum: 0, description: 'Epoch of the current training phase (1-based), 0 outside training.' }),
      epochs: Type.Integer({ minimum: 0 }),
      step: Type.Integer({ minimum: 0, description: 'Step within the epoch (1-based).' }),
      steps: Type.Integer({ minimum: 0 }),
      percent: Type.Number({ minimum: 0, maximum: 100, description: '0..100 over the whole job, all phases, weighted by estimated compute.' }),
      eta_seconds: nullable(Type.Integer({ minimum: 0 }), { description: 'Estimated seconds to the end of the job; null until there is a rate to go by.' }),
    },
    { additionalProperties: false, description: 'Progress at the time of the event (see `JobProgress`).' },
  ),
);
export type EngineProgress = Static<typeof EngineProgress>;

export const StatusEventData = component(
  'StatusEventData',
  Type.Object(
    {
      status: JobStatus,
      attempt: Type.Optional(Type.Integer({ minimum: 1, description: 'With `running` and `succeeded`: the attempt.' })),
      reason: Type.Optional(Type.Enum(['retry', 'worker_shutdown'], { description: 'With `queued` after a start: why the job went back to the queue.' })),
      error: Type.Optional(described(JobError, 'With `failed` (why), or with `queued` after a failed attempt that will be retried.')),
    },
    { additionalProperties: false },
  ),
);
export type StatusEventData = Static<typeof StatusEventData>;

export const PhaseEventData = component('PhaseEventData', Type.Object({ phase: Phase }, { additionalProperties: false }));
export type PhaseEventData = Static<typeof PhaseEventData>;

export const MetricsEventData = component(
  'MetricsEventData',
  Type.Object(
    {
      phase: TrainingPhase,
      model: ModelRole,
      epoch: Type.Integer({ minimum: 1 }),
      step: Type.Integer({ minimum: 1 }),
      loss: nullable(Type.Number(), { description: "The batch's training loss (null if not finite, i.e. training diverged)." }),
      ce: Type.Optional(nullable(Type.Number(), { description: 'Distillation only: the hard-label cross-entropy term.' })),
      kd: Type.Optional(nullable(Type.Number(), { description: 'Distillation with method logits: the KL term at temperature T, before weighting.' })),
      hint: Type.Optional(nullable(Type.Number(), { description: 'Method hint: Σ weight·MSE, before β.' })),
      attention: Type.Optional(nullable(Type.Number(), { description: 'Method attention: Σ weight·‖a_s − a_t‖₂, before β.' })),
      temperature: Type.Optional(Type.Number({ description: "When the temperature follows a schedule: this epoch's." })),
      alpha: Type.Optional(Type.Number({ description: "When α follows a schedule: this epoch's." })),
      accuracy: Share,
      samples_per_second: nullable(Type.Integer({ minimum: 0 })),
      progress: EngineProgress,
    },
    { additionalProperties: false },
  ),
);
export type MetricsEventData = Static<typeof MetricsEventData>;

export const EpochEventData = component(
  'EpochEventData',
  Type.Object(
    {
      phase: TrainingPhase,
      model: ModelRole,
      epoch: Type.Integer({ minimum: 1 }),
      epochs: Type.Integer({ minimum: 1 }),
      train_loss: nullable(Type.Number()),
      train_accuracy: Share,
      val_loss: nullable(Type.Number(), { description: 'Null without a validation split.' }),
      val_accuracy: nullable(Share),
      learning_rate: Type.Number(),
      elapsed_seconds: Type.Number({ minimum: 0, description: 'Seconds this epoch took.' }),
      progress: EngineProgress,
    },
    { additionalProperties: false },
  ),
);
export type EpochEventData = Static<typeof EpochEventData>;

export const CheckpointEventData = component(
  'CheckpointEventData',
  Type.Object(
    {
      phase: TrainingPhase,
      epoch: Type.Integer({ minimum: 0, description: 'The epoch the checkpoint was taken after.' }),
      seq: Type.Integer({ minimum: 1, description: "The checkpoint's number within the job." }),
      bytes: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
);
export type CheckpointEventData = Static<typeof CheckpointEventData>;

const Names = Type.Array(Type.String());
export const BackendInfo = component(
  'BackendInfo',
  Type.Object(
    {
      name: BackendName,
      tfBackend: Type.String({ description: "tfjs' own name for the active backend (`tensorflow` for both native packages)." }),
      threads: Type.Integer({ minimum: 0, description: 'Threads doing the arithmetic (0: decided by libtensorflow).' }),
      simd: Type.Boolean({ description: 'wasm: whether the SIMD build runs.' }),
      addedKernels: described(Names, 'wasm: kernels added because the package lacks them.'),
      fixedKernels: described(Names, 'wasm: stock kernels replaced because they compute wrong results.'),
      fastKernels: described(Names, 'wasm: stock kernels replaced by fast compositions.'),
      skipped: described(Names, 'Why better backends were skipped (`auto`).'),
      blas: Type.Optional(
        Type.Union(
          [
            Type.Null(),
            Type.Object({ config: Type.String(), core: Type.String(), threads: Type.Integer({ minimum: 1 }), kernels: Names }, { additionalProperties: false }),
          ],
          { description: 'wasm-blas: the OpenBLAS build, the CPU kernels it picked, its threads and the kernels it serves; null elsewhere.' },
        ),
      ),
      adam: Type.Optional(
        Type.Enum(['fused-native', 'fused-js', 'stock'], {
          description: "How Adam updates each variable: one fused wasm kernel (native addon or JavaScript loop) or tfjs' stock kernels.",
        }),
      ),
    },
    { additionalProperties: false, description: 'Sent with the `training on <backend>` log line that starts each attempt.' },
  ),
);
export type BackendInfo = Static<typeof BackendInfo>;

export const LogEventData = component(
  'LogEventData',
  Type.Object({ level: Type.Enum(['info', 'warn']), message: Type.String(), backend: Type.Optional(BackendInfo) }, { additionalProperties: false }),
);
export type LogEventData = Static<typeof LogEventData>;

/** One kind of event: the envelope every event has, with this `type` and its `data`. */
function eventOf<K extends string, D extends TSchema>(type: K, data: D) {
  const name = `${type[0]!.toUpperCase()}${type.slice(1)}Event`;
  return component(
    name,
    Type.Object(
      {
        object: Type.Literal('event'),
        job_id: Type.String(),
        seq: Type.Integer({ minimum: 1, description: 'Per job: 1, 2, 3, … with no gap.' }),
        type: Type.Literal(type),
        data,
        created_at: Type.String({ format: 'date-time' }),
      },
      { additionalProperties: false },
    ),
  );
}

/** The event types, each with its data; `status` with a terminal status is always a job's last event. */
export const EventObject = component(
  'EventObject',
  Type.Union(
    [
      eventOf('status', StatusEventData),
      eventOf('phase', PhaseEventData),
      eventOf('metrics', MetricsEventData),
      eventOf('epoch', EpochEventData),
      eventOf('checkpoint', CheckpointEventData),
      eventOf('log', LogEventData),
    ],
    {
      description: `One event of a job's stream, as listed over REST and sent over both WebSockets, keyed on \`type\`:

| type | data |
|------|------|
| \`status\` | \`StatusEventData\`: the job's new status (\`queued\` again with a \`reason\` when an attempt is retried) |
| \`phase\` | \`PhaseEventData\`: the job entered a phase |
| \`metrics\` | \`MetricsEventData\`: the latest training batch (every few steps, at least every 2 s) |
| \`epoch\` | \`EpochEventData\`: an epoch's summary, with validation scores |
| \`checkpoint\` | \`CheckpointEventData\`: a checkpoint was saved; a retry resumes from it |
| \`log\` | \`LogEventData\`: a log line (e.g. which backend the attempt trains on) |
`,
    },
  ),
);
export type EventObject = Static<typeof EventObject>;
export type JobEventType = EventObject['type'];
/** The event of one type, e.g. `EventOf<'metrics'>['data']`. */
export type EventOf<K extends JobEventType> = Extract<EventObject, { type: K }>;
