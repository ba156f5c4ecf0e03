// Checkpoints: every epoch of every training phase, a lossless binary encoding, and resuming from
// any of them ends with exactly the weights of a run that never stopped.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/ml/checkpoint.js';
import { EngineError } from '../../src/ml/errors.js';
import { runJob, type JobOutcome } from '../../src/ml/index.js';
import { collect, tinySpec, weightsOf } from './helpers.js';

before(async () => {
  await initBackend('wasm');
});

// Adam (slots to restore) for the teacher, momentum for the students, dropout in the teacher.
const spec = tinySpec({
  teacher: {
    model: {
      layers: [
        { type: 'dense', units: 32, activation: 'relu' },
        { type: 'dropout', rate: 0.3 },
        { type: 'dense', units: 4 },
      ],
    },
    training: { epochs: 3, batch_size: 32, optimizer: 'adam', learning_rate: 0.01 },
  },
  student: { model: { preset: 'mlp-tiny' }, training: { epochs: 3, batch_size: 32, optimizer: 'momentum', learning_rate: 0.05 } },
});

describe('checkpoints', () => {
  let full: JobOutcome;
  const saved: Uint8Array[] = [];

  it('are taken after every epoch of every training phase', async () => {
    const { events, onEvent } = collect();
    full = await runJob(spec, { onEvent, onCheckpoint: async (c) => void saved.push(encodeCheckpoint(c)) });
    const taken = saved.map(decodeCheckpoint).map((c) => `${c.phase}:${c.epoch}`);
    assert.deepEqual(taken, [
      'training_teacher:1',
      'training_teacher:2',
      'training_teacher:3',
      'distilling:1',
      'distilling:2',
      'distilling:3',
      'training_baseline:1',
      'training_baseline:2',
      'training_baseline:3',
    ]);
    assert.equal(events.filter((e) => e.type === 'checkpoint').length, 9);
    const distilling = decodeCheckpoint(saved[3]!);
    assert.ok(distilling.teacher_weights, 'holds the trained teacher so a resumed job does not retrain it');
    assert.ok(distilling.soft_target_key);
    assert.equal(distilling.step, 9);
    assert.ok(distilling.optimizer.length > 1, 'momentum slots are saved');
  });

  it('encode and decode losslessly', () => {
    const c = decodeCheckpoint(saved[4]!);
    const again = decodeCheckpoint(encodeCheckpoint(c));
    assert.deepEqual(again, c);
    assert.ok(c.weights[0]!.data instanceof Float32Array);
    assert.throws(
      () => decodeCheckpoint(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])),
      (e: unknown) => e instanceof EngineError && e.code === 'bad_checkpoint',
    );
  });

  for (const [label, index] of [
    ['teacher epoch 1', 0],
    ['distillation epoch 2', 4],
    ['baseline epoch 1', 6],
  ] as const) {
    it(`resuming from ${label} gives the same final weights as the uninterrupted run`, async () => {
      const before = tf.memory().numTensors;
      const { events, onEvent } = collect();
      const resumed = await runJob(spec, { onEvent, resumeFrom: decodeCheckpoint(saved[index]!) });
      assert.equal(weightsOf(resumed.models.student), weightsOf(full.models.student));
      assert.equal(weightsOf(resumed.models.baseline!), weightsOf(full.models.baseline!));
      assert.equal(weightsOf(resumed.models.teacher!), weightsOf(full.models.teacher!));
      assert.equal(tf.memory().numTensors, before);
      const resumedAt = decodeCheckpoint(saved[index]!);
      const trainedAgain = events.filter((e) => e.type === 'epoch' && e.phase === resumedAt.phase).map((e) => (e.type === 'epoch' ? e.epoch : 0));
      assert.deepEqual(
        trainedAgain,
        [2, 3].filter((k) => k > resumedAt.epoch),
        'only the remaining epochs run',
      );
      assert.deepEqual(resumed.report.student.history.length, 3, 'history carries over');
    });
  }

  it('refuses a checkpoint of another spec', async () => {
    await assert.rejects(
      runJob({ ...spec, seed: 1 }, { onEvent() {}, resumeFrom: decodeCheckpoint(saved[0]!) }),
      (e: unknown) => e instanceof EngineError && e.code === 'bad_checkpoint',
    );
  });
});
