/** What a running job does, in order, and who does it (plain values: the dashboard bundles this file). */
export const PHASES = ['preparing_data', 'training_teacher', 'computing_soft_targets', 'distilling', 'training_baseline', 'evaluating', 'saving'] as const;
export type PhaseName = (typeof PHASES)[number];

/** The phases that train a model (they send `metrics`, `epoch` and `checkpoint` events). */
export const TRAINING_PHASES = ['training_teacher', 'distilling', 'training_baseline'] as const satisfies readonly PhaseName[];

/** `baseline` is the student architecture trained on hard labels only. */
export const MODEL_ROLES = ['teacher', 'student', 'baseline'] as const;
export type ModelRoleName = (typeof MODEL_ROLES)[number];

/** The tfjs backends a worker can train on, best first. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm-blas', 'wasm', 'cpu'] as const;
