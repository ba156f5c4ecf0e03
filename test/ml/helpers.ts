// Small specs and helpers shared by the engine tests.
import type { EngineEvent } from '../../src/ml/events.js';
import type { ModelArtifacts } from '../../src/ml/models/serialize.js';
import type { EngineSpec } from '../../src/ml/spec.js';

/** A job that runs in about a second: 4 classes, 16 features, a small teacher with dropout. */
export function tinySpec(overrides: Partial<EngineSpec> = {}): EngineSpec {
  return {
    dataset: { source: 'builtin:synthetic', options: { samples: 400, features: 16, classes: 4 } },
    teacher: {
      model: {
        layers: [
          { type: 'dense', units: 32, activation: 'relu' },
          { type: 'dropout', rate: 0.2 },
          { type: 'dense', units: 4 },
        ],
      },
      training: { epochs: 2, batch_size: 32, learning_rate: 0.01 },
    },
    student: { model: { preset: 'mlp-tiny' }, training: { epochs: 2, batch_size: 32, learning_rate: 0.01 } },
    distillation: { baseline: true },
    ...overrides,
  };
}

export function collect() {
  const events: EngineEvent[] = [];
  return { events, onEvent: (e: EngineEvent) => void events.push(e) };
}

/** Bytes of a model's weights: equal bytes, equal weights. */
export const weightsOf = (a: ModelArtifacts) => Buffer.from(a.weights).toString('base64');
