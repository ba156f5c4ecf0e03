// A whole job through runJob: events, report, determinism, tensor hygiene, responsiveness, cancel.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { DataError, JobCancelledError, ModelError, SpecError } from '../../src/ml/errors.js';
import type { EpochEvent, MetricsEvent, PhaseEvent } from '../../src/ml/events.js';
import { runJob } from '../../src/ml/index.js';
import { collect, tinySpec, weightsOf } from './helpers.js';

before(async () => {
  await initBackend('wasm');
});

describe('runJob', () => {
  it('goes through every phase, reports progress, and returns a complete report', async () => {
    const { events, onEvent } = collect();
    const outcome = await runJob(tinySpec(), { onEvent, metricsEvery: 3 });
    const phases = events.filter((e): e is PhaseEvent => e.type === 'phase').map((e) => e.phase);
    assert.deepEqual(phases, ['preparing_data', 'training_teacher', 'computing_soft_targets', 'distilling', 'training_baseline', 'evaluating', 'saving']);

    const epochs = events.filter((e): e is EpochEvent => e.type === 'epoch');
    assert.deepEqual(
      epochs.map((e) => `${e.model}:${e.epoch}/${e.epochs}`),
      ['teacher:1/2', 'teacher:2/2', 'student:1/2', 'student:2/2', 'baseline:1/2', 'baseline:2/2'],
    );
    assert.ok(epochs.every((e) => e.val_accuracy !== null && e.learning_rate === 0.01 && e.elapsed_seconds > 0));
    const metrics = events.filter((e): e is MetricsEvent => e.type === 'metrics');
    // 288 training samples / 32 = 9 steps per epoch, metrics every 3 steps: 3 per epoch per model.
    assert.equal(metrics.filter((m) => m.model === 'student').length, 6);
    assert.ok(metrics.filter((m) => m.model === 'student').every((m) => m.ce !== undefined && m.kd !== undefined && m.samples_per_second > 0));
    assert.ok(metrics.filter((m) => m.model !== 'student').every((m) => m.kd === undefined));
    const percents = events.flatMap((e) => ('progress' in e ? [e.progress.percent] : []));
    assert.ok(
      percents.every((p, i) => i === 0 || p >= percents[i - 1]!),
      `percent must not go back: ${percents}`,
    );
    assert.ok(percents.at(-1)! > 95 && percents.at(-1)! <= 100);

    const r = outcome.report;
    assert.equal(r.backend, 'wasm');
    assert.deepEqual(r.dataset, {
      source: 'builtin:synthetic',
      input_shape: [16],
      classes: ['class_0', 'class_1', 'class_2', 'class_3'],
      train_samples: 288,
      validation_samples: 32,
      test_samples: 80,
    });
    for (const m of [r.teacher, r.student, r.baseline!]) {
      assert.ok(m.test_accuracy > 0.25, `better than chance on 4 classes: ${m.test_accuracy}`);
      assert.equal(m.per_class_accuracy.length, 4);
      assert.equal(
        m.per_class_accuracy.reduce((n, c) => n + c.support, 0),
        80,
      );
      assert.ok(m.latency_ms_per_sample.batch_1 > 0 && m.latency_ms_per_sample.batch_256 > 0);
      assert.ok(m.bytes > m.parameters * 4);
    }
    assert.equal(r.teacher.parameters, 16 * 32 + 32 + 32 * 4 + 4);
    assert.equal(r.student.parameters, 16 * 32 + 32 + 32 * 4 + 4);
    assert.equal(r.compression_ratio, 1);
    assert.ok(r.teacher_student_agreement > 0.5 && r.teacher_student_agreement <= 1);
    assert.equal(r.distillation_gain, Math.round((r.student.test_accuracy - r.baseline!.test_accuracy) * 1e4) / 1e4);
    assert.equal(r.spec.distillation.temperature, 4);
    assert.ok(outcome.models.teacher && outcome.models.baseline && outcome.models.student.weights.byteLength > 0);
  });

  it('gives identical weights for the same seed, different ones for another seed', async () => {
    const spec = tinySpec({ distillation: { baseline: false } });
    const a = await runJob(spec, { onEvent() {} });
    const b = await runJob(spec, { onEvent() {} });
    const c = await runJob({ ...spec, seed: 7 }, { onEvent() {} });
    assert.equal(weightsOf(a.models.teacher!), weightsOf(b.models.teacher!));
    assert.equal(weightsOf(a.models.student), weightsOf(b.models.student));
    assert.notEqual(weightsOf(a.models.student), weightsOf(c.models.student));
  });

  it('cached soft targets train the same student as running the teacher on every batch', async () => {
    const cached = await runJob(tinySpec({ distillation: { soft_targets: 'cached' } }), { onEvent() {} });
    const perBatch = await runJob(tinySpec({ distillation: { soft_targets: 'per_batch' } }), { onEvent() {} });
    assert.equal(perBatch.report.soft_targets, 'per_batch');
    const a = new Float32Array(cached.models.student.weights.slice().buffer);
    const b = new Float32Array(perBatch.models.student.weights.slice().buffer);
    assert.ok(
      a.every((v, i) => Math.abs(v - b[i]!) < 1e-4),
      'student weights differ',
    );
  });

  it('leaves no tensor behind, over 20 jobs in one process', async () => {
    const spec = tinySpec({ dataset: { source: 'builtin:synthetic', options: { samples: 120, features: 8, classes: 3 } } });
    const optimizers = ['adam', 'momentum', 'sgd'] as const;
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const training = { epochs: 1, optimizer: optimizers[i % 3]! };
      await runJob(
        { ...spec, seed: i, teacher: { model: { preset: 'mlp-tiny' }, training }, student: { model: { preset: 'linear' }, training } },
        { onEvent() {} },
      );
      counts.push(tf.memory().numTensors);
    }
    assert.deepEqual(counts, new Array(20).fill(before));
  });

  it('yields to the event loop at least every 250 ms while training', async () => {
    const spec = tinySpec({ dataset: { source: 'builtin:synthetic', options: { samples: 3000, features: 64, classes: 4 } } });
    let last = performance.now();
    let longestGap = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      ticks++;
    }, 5);
    try {
      await runJob(spec, { onEvent() {} });
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks > 10, `${ticks} timer ticks`);
    assert.ok(longestGap < 250, `the event loop was blocked for ${longestGap.toFixed(0)} ms`);
  });

  it('stops between batches when the signal aborts, with a typed error and no leaked tensor', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let batchesAfterAbort = 0;
    const run = runJob(tinySpec(), {
      signal: controller.signal,
      metricsEvery: 1,
      onEvent(e) {
        if (e.type !== 'metrics' || e.model !== 'student') return;
        if (controller.signal.aborted) batchesAfterAbort++;
        else controller.abort();
      },
    });
    await assert.rejects(run, (err: unknown) => err instanceof JobCancelledError && err.code === 'cancelled');
    assert.equal(batchesAfterAbort, 0);
    assert.equal(tf.memory().numTensors, before);
  });

  it('rejects bad specs, unknown datasets and mismatched teachers with typed errors', async () => {
    const badLayer = tinySpec({ student: { model: { layers: [{ type: 'dense', units: 5 }] } } });
    await assert.rejects(runJob(badLayer, { onEvent() {} }), (err: unknown) => err instanceof SpecError && err.path === '/student/model/layers/0/units');
    const upload = tinySpec({ dataset: { source: 'ds_missing' } });
    await assert.rejects(runJob(upload, { onEvent() {} }), (err: unknown) => err instanceof DataError && err.code === 'unknown_source');
    const teacher = await runJob(tinySpec({ distillation: { baseline: false } }), { onEvent() {} });
    const eightClasses = tinySpec({
      dataset: { source: 'builtin:synthetic', options: { samples: 400, features: 16, classes: 8 } },
      teacher: { model_id: 'mdl_x' },
      student: { model: { preset: 'linear' } },
    });
    await assert.rejects(
      runJob(eightClasses, { onEvent() {}, resolveModel: async () => teacher.models.teacher! }),
      (err: unknown) => err instanceof ModelError && err.code === 'model_shape_mismatch' && /outputs \[4\] but the dataset has 8 classes/.test(err.message),
    );
  });
});
