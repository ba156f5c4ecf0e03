import Type, { type Static } from 'typebox';
import { component } from './component.js';
import { BACKEND_NAMES, MODEL_ROLES, PHASES, TRAINING_PHASES } from './phases.js';
import { JOB_STATUSES } from './statuses.js';

export const JobStatus = component(
  'JobStatus',
  Type.Enum([...JOB_STATUSES], {
    description:
      '`queued` → `running` → `succeeded` | `failed`; `cancelled` from `queued` at once, or from `running`\nthrough `cancelling`. A job whose attempt is interrupted (worker crash or shutdown) goes back to `queued`\nand resumes from its last checkpoint. Terminal: `succeeded`, `failed`, `cancelled`.\n',
  }),
);
export type JobStatus = Static<typeof JobStatus>;

export const Phase = component(
  'Phase',
  Type.Enum([...PHASES], {
    description:
      'What a running job is doing, in this order (`training_teacher` only when the teacher is trained here, `training_baseline` only with `distillation.baseline`).',
  }),
);
export type Phase = Static<typeof Phase>;

export const TrainingPhase = component('TrainingPhase', Type.Enum([...TRAINING_PHASES]));
export type TrainingPhase = Static<typeof TrainingPhase>;

export const ModelRole = component(
  'ModelRole',
  Type.Enum([...MODEL_ROLES], { description: '`baseline` is the student architecture trained on hard labels only.' }),
);
export type ModelRole = Static<typeof ModelRole>;

export const BackendName = component(
  'BackendName',
  Type.Enum([...BACKEND_NAMES], {
    description: 'The tfjs backend a worker trains on (best first). `wasm-blas`: the wasm backend with its matmuls on OpenBLAS (the optional native addon).',
  }),
);
export type BackendName = Static<typeof BackendName>;
