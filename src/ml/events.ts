/** The typed progress events a job emits through RunContext.onEvent, in order. */

import type { ModelRoleName, PhaseName, TRAINING_PHASES } from '../contract/phases.js';

// The phases and roles are the wire contract's (plain values, no server code).
export { PHASES } from '../contract/phases.js';
export type Phase = PhaseName;
export type TrainingPhase = (typeof TRAINING_PHASES)[number];
export type ModelRole = ModelRoleName;

export interface Progress {
  /** Epoch of the current training phase (1-based), 0 outside training. */
  epoch: number;
  epochs: number;
  /** Step within the epoch (1-based). */
  step: number;
  steps: number;
  /** 0..100 over the whole job, all phases, weighted by estimated compute. */
  percent: number;
  /** Estimated seconds to the end of the job; null until there is a rate to go by. */
  eta_seconds: number | null;
}

export interface PhaseEvent {
  type: 'phase';
  phase: Phase;
  progress: Progress;
}

/** Every `metricsEvery` steps (and at least every few seconds): the latest batch. */
export interface MetricsEvent {
  type: 'metrics';
  phase: TrainingPhase;
  model: ModelRole;
  epoch: number;
  step: number;
  loss: number;
  /** Hard-label cross-entropy (distillation only; equals loss otherwise). */
  ce?: number;
  /** KL term at temperature T before weighting (distillation with method logits). */
  kd?: number;
  /** Hint term Σ weight·MSE before β (method hint). */
  hint?: number;
  /** Attention-transfer term Σ weight·‖a_s − a_t‖₂ before β (method attention). */
  attention?: number;
  /** Temperature and α of this epoch, when either follows a schedule. */
  temperature?: number;
  alpha?: number;
  accuracy: number;
  samples_per_second: number;
  progress: Progress;
}

export interface EpochEvent {
  type: 'epoch';
  phase: TrainingPhase;
  model: ModelRole;
  epoch: number;
  epochs: number;
  train_loss: number;
  train_accuracy: number;
  val_loss: number | null;
  val_accuracy: number | null;
  learning_rate: number;
  elapsed_seconds: number;
  progress: Progress;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  phase: TrainingPhase;
  model: ModelRole;
  epoch: number;
}

export interface LogEvent {
  type: 'log';
  level: 'info' | 'warn';
  message: string;
}

export type EngineEvent = PhaseEvent | MetricsEvent | EpochEvent | CheckpointEvent | LogEvent;
