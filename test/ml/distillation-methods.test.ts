// Hints, attention transfer, several teachers and schedules through whole jobs: each method trains a
// student well above chance and reduces its own term, events and report carry every term, several
// teachers' soft targets are their mean, checkpoints resume exactly, and nothing leaks.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/ml/backend/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/ml/checkpoint.js';
import { planDistillation } from '../../src/ml/distill/setup.js';
import { SpecError } from '../../src/ml/errors.js';
import type { MetricsEvent } from '../../src/ml/events.js';
import { artifactsToModel, type ModelArtifacts } from '../../src/ml/models/serialize.js';
import { runJob } from '../../src/ml/index.js';
import { withDefaults, type EngineSpec } from '../../src/ml/spec.js';
import type { DistillationSpec } from '../../src/ml/spec-distillation.js';
import { collect, weightsOf } from './helpers.js';

before(async () => {
  await initBackend('wasm');
});

// 8×8 one-channel samples, 4 classes: 288 training samples, 9 steps of 32 per epoch.
const dataset: EngineSpec['dataset'] = { source: 'builtin:synthetic', options: { samples: 400, shape: [8, 8, 1], classes: 4 } };
const conv = (name: string, filters: number) => ({
  type: 'conv2d' as const,
  name,
  filters,
  kernel_size: 3,
  padding: 'same' as const,
  activation: 'relu' as const,
});
const dense = (name: string, units: number) => ({ type: 'dense' as const, name, units, activation: 'relu' as const });
const teacherModel = {
  layers: [conv('tconv', 8), { type: 'maxPooling2d' as const }, { type: 'flatten' as const }, dense('thidden', 32), { type: 'dense' as const, units: 4 }],
};
const studentModel = {
  layers: [conv('sconv', 4), { type: 'maxPooling2d' as const }, { type: 'flatten' as const }, dense('shidden', 16), { type: 'dense' as const, units: 4 }],
};
const training = { epochs: 4, batch_size: 32, learning_rate: 0.01 };

let givenTeacher: ModelArtifacts;
const resolveModel = async () => givenTeacher;
const job = (distillation: DistillationSpec, extra: Partial<EngineSpec> = {}): EngineSpec => ({
  dataset,
  teacher: { model_id: 'mdl_teacher' },
  student: { model: studentModel, training },
  distillation,
  ...extra,
});
const termsOf = (h: Array<Record<string, number>>, term: string) => h.map((e) => e[term]!);

describe('distillation methods', () => {
  before(async () => {
    const trained = await runJob(
      { dataset, teacher: { model: teacherModel, training: { ...training, epochs: 3 } }, student: { model: { preset: 'linear' }, training: { epochs: 1 } } },
      { onEvent() {} },
    );
    givenTeacher = trained.models.teacher!;
  });

  const methods: Array<[string, 'hint' | 'attention', { student: string; teacher: string }]> = [
    ['a hint between feature maps (1×1 convolution)', 'hint', { student: 'sconv', teacher: 'tconv' }],
    ['a hint between vectors (dense projection)', 'hint', { student: 'shidden', teacher: 'thidden' }],
    ['attention transfer', 'attention', { student: 'sconv', teacher: 'tconv' }],
  ];
  for (const [what, method, pair] of methods) {
    it(`${what} trains the student above chance and reduces its own term`, async (t) => {
      const run = async (beta: number) => {
        const { events, onEvent } = collect();
        const out = await runJob(job({ method: [method], [method]: { pairs: [pair], beta } }), { onEvent, resolveModel });
        return { out, metrics: events.filter((e): e is MetricsEvent => e.type === 'metrics' && e.model === 'student') };
      };
      const { out, metrics } = await run(1);
      const r = out.report;
      assert.ok(r.student.test_accuracy > 0.6, `student ${r.student.test_accuracy} (chance 0.25)`);
      assert.ok(
        metrics.length > 0 && metrics.every((m) => m[method]! >= 0 && m.ce !== undefined && m.kd === undefined),
        'metrics carry the term, no kd without logits',
      );
      const terms = termsOf(r.distillation!.history as unknown as Array<Record<string, number>>, method);
      assert.equal(terms.length, 4);
      assert.ok(terms[3]! < terms[0]!, `the ${method} term falls over the epochs: ${terms}`);
      // The same job with the term weighted 0 (reported, not optimized): the term itself stays higher.
      const unweighted = termsOf((await run(0)).out.report.distillation!.history as unknown as Array<Record<string, number>>, method);
      assert.ok(terms[3]! < unweighted[3]!, `optimized ${terms[3]} vs not optimized ${unweighted[3]}`);
      t.diagnostic(
        `${method}: accuracy ${r.student.test_accuracy}, term by epoch ${terms.map((v) => v.toFixed(4))}, unweighted ${unweighted.map((v) => v.toFixed(4))}`,
      );
    });
  }

  it('combines logits, hint and attention under schedules; events and report show each term', async () => {
    const { events, onEvent } = collect();
    const distillation: DistillationSpec = {
      method: ['logits', 'hint', 'attention'],
      temperature: { from: 8, to: 2 },
      alpha: { from: 0.9, to: 0.6 },
      hint: { pairs: [{ student: 'sconv', teacher: 'tconv' }], beta: 0.5 },
      attention: { pairs: [{ student: 'sconv', teacher: 'tconv', weight: 2 }] },
    };
    const r = (await runJob(job(distillation), { onEvent, resolveModel })).report;
    assert.ok(r.student.test_accuracy > 0.6, `student ${r.student.test_accuracy}`);
    const metrics = events.filter((e): e is MetricsEvent => e.type === 'metrics' && e.model === 'student');
    assert.ok(metrics.every((m) => ['ce', 'kd', 'hint', 'attention', 'temperature', 'alpha'].every((k) => typeof m[k as keyof MetricsEvent] === 'number')));
    const d = r.distillation!;
    assert.deepEqual(d.methods, ['logits', 'hint', 'attention']);
    assert.equal(d.projection_parameters, (4 + 1) * 8, '1×1 convolution from 4 to 8 channels');
    assert.deepEqual(
      d.history.map((e) => e.temperature),
      [8, 6, 4, 2],
    );
    assert.deepEqual(
      d.history.map((e) => Math.round(e.alpha * 100) / 100),
      [0.9, 0.8, 0.7, 0.6],
    );
    for (const e of d.history) {
      // Epoch means of each term recombine into the epoch's mean loss (the weights are constant within an epoch).
      const recombined = (1 - e.alpha) * e.ce + e.alpha * e.temperature ** 2 * e.kd! + 0.5 * e.hint! + 1 * e.attention!;
      assert.ok(Math.abs(recombined - e.loss) < 1e-3 * e.loss, `epoch ${e.epoch}: ${recombined} vs ${e.loss}`);
    }
    assert.ok(!('distillation' in (await runJob(job({}), { onEvent() {}, resolveModel })).report), 'plain logits jobs keep the old report shape');
  });

  it('several teachers: soft targets are the mean, so two copies of one teacher distil exactly like it', async () => {
    const single = await runJob(job({ alpha: 1 }), { onEvent() {}, resolveModel });
    const twice = await runJob(job({ alpha: 1 }, { teacher: undefined, teachers: [{ model_id: 'a' }, { model_id: 'b' }] }), { onEvent() {}, resolveModel });
    const a = new Float32Array(single.models.student.weights.slice().buffer);
    const b = new Float32Array(twice.models.student.weights.slice().buffer);
    assert.ok(
      a.every((v, i) => Math.abs(v - b[i]!) < 1e-4),
      'student weights differ',
    );
    assert.equal(twice.report.teachers!.length, 2);
    assert.equal(twice.report.teacher_ensemble!.test_accuracy, single.report.teacher.test_accuracy);
    assert.deepEqual(twice.report.teacher_ensemble!.weights, [0.5, 0.5]);
    assert.equal(twice.report.teacher_student_agreement, single.report.teacher_student_agreement);
  });

  it('run the teachers per batch when their outputs exceed the cache bound, with a note', async () => {
    const spec = withDefaults(job({ method: ['hint'], hint: { pairs: [{ student: 'sconv', teacher: 'tconv' }] } }));
    const teacher = await artifactsToModel(givenTeacher);
    const student = tf.sequential({ layers: [tf.layers.conv2d({ name: 'sconv', inputShape: [8, 8, 1], filters: 4, kernelSize: 1 })] });
    const small = planDistillation(spec.distillation, student, [teacher], 1000, 4);
    // 8×8×8 floats per sample: 256 MiB hold 131,072 samples.
    const large = planDistillation(spec.distillation, student, [teacher], 200_000, 4);
    assert.equal(small.mode, 'cached');
    assert.equal(large.mode, 'per_batch');
    assert.match(large.note!, /would take 391 MiB \(cache limit 256 MiB\)/);
    teacher.dispose();
    student.dispose();
  });

  it('cached and per-batch teacher outputs train the same student; a given teacher lacking a layer is refused', async () => {
    const distillation: DistillationSpec = {
      method: ['logits', 'hint', 'attention'],
      hint: { pairs: [{ student: 'shidden', teacher: 'thidden' }] },
      attention: { pairs: [{ student: 'sconv', teacher: 'tconv' }] },
    };
    const before = tf.memory().numTensors;
    const cached = await runJob(job({ ...distillation, soft_targets: 'cached' }), { onEvent() {}, resolveModel });
    const perBatch = await runJob(job({ ...distillation, soft_targets: 'per_batch' }), { onEvent() {}, resolveModel });
    assert.equal(cached.report.soft_targets, 'cached');
    assert.equal(perBatch.report.soft_targets, 'per_batch');
    const a = new Float32Array(cached.models.student.weights.slice().buffer);
    const b = new Float32Array(perBatch.models.student.weights.slice().buffer);
    assert.ok(
      a.every((v, i) => Math.abs(v - b[i]!) < 1e-4),
      'student weights differ',
    );
    const missing = job({ method: ['hint'], hint: { pairs: [{ student: 'sconv', teacher: 'conv_nope' }] } });
    await assert.rejects(
      runJob(missing, { onEvent() {}, resolveModel }),
      (e: unknown) => e instanceof SpecError && e.path === '/distillation/hint/pairs/0/teacher' && /no layer named 'conv_nope'/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  });
});

describe('checkpoints with projections and several teachers', () => {
  // Two teachers trained in the job (different seeds and layers), soft targets weighted 1:2, a hint
  // from the second teacher's feature map and attention from the first's.
  const spec: EngineSpec = {
    dataset,
    teachers: [
      { model: teacherModel, training: { epochs: 2, batch_size: 32, learning_rate: 0.01 } },
      {
        model: { layers: [conv('wide', 6), { type: 'maxPooling2d' }, { type: 'flatten' }, { type: 'dense', units: 4 }] },
        training: { epochs: 2, batch_size: 32, learning_rate: 0.01, optimizer: 'momentum' },
      },
    ],
    student: { model: studentModel, training: { epochs: 3, batch_size: 32, learning_rate: 0.01 } },
    distillation: {
      method: ['logits', 'hint', 'attention'],
      teacher_weights: [1, 2],
      hint: { pairs: [{ student: 'sconv', teacher: 'wide', teacher_index: 1 }] },
      attention: { pairs: [{ student: 'sconv', teacher: 'tconv' }] },
      baseline: true,
    },
  };
  const saved: Uint8Array[] = [];
  let full: Awaited<ReturnType<typeof runJob>>;

  it('are taken per teacher and carry the projections', async () => {
    const { events, onEvent } = collect();
    full = await runJob(spec, { onEvent, onCheckpoint: async (c) => void saved.push(encodeCheckpoint(c)) });
    const taken = saved.map(decodeCheckpoint).map((c) => `${c.phase}:${c.teacher_index ?? '-'}:${c.epoch}`);
    assert.deepEqual(taken, [
      'training_teacher:0:1',
      'training_teacher:0:2',
      'training_teacher:1:1',
      'training_teacher:1:2',
      'distilling:-:1',
      'distilling:-:2',
      'distilling:-:3',
      'training_baseline:-:1',
      'training_baseline:-:2',
      'training_baseline:-:3',
    ]);
    const distilling = decodeCheckpoint(saved[5]!);
    assert.deepEqual(
      distilling.projection_weights!.map((w) => w.shape),
      [[4, 6], [6]],
      '1×1 convolution from 4 to 6 channels',
    );
    assert.equal(distilling.distillation_history!.length, 2);
    assert.ok(events.some((e) => e.type === 'log' && e.message === 'training teacher 1 (2 of 2)'));
    assert.equal(full.report.teachers!.length, 2);
    assert.equal(full.report.teachers![1]!.history.length, 2);
    assert.deepEqual(full.report.teacher_ensemble!.weights, [0.3333, 0.6667]);
    assert.ok(full.report.student.test_accuracy > 0.6, `student ${full.report.student.test_accuracy}`);
    assert.ok(full.models.teacher && full.models.teacher1, 'both trained teachers are among the models');
  });

  for (const [label, index] of [
    ["the second teacher's first epoch", 2],
    ['distillation epoch 2', 5],
  ] as const) {
    it(`resuming from ${label} ends with the same weights`, async () => {
      const before = tf.memory().numTensors;
      const resumed = await runJob(spec, { onEvent() {}, resumeFrom: decodeCheckpoint(saved[index]!) });
      assert.equal(weightsOf(resumed.models.student), weightsOf(full.models.student));
      assert.equal(weightsOf(resumed.models.teacher1!), weightsOf(full.models.teacher1!));
      assert.equal(weightsOf(resumed.models.baseline!), weightsOf(full.models.baseline!));
      assert.deepEqual(resumed.report.distillation!.history, full.report.distillation!.history);
      assert.deepEqual(
        resumed.report.teachers!.map((t) => t.history.length),
        [2, 2],
      );
      assert.equal(tf.memory().numTensors, before);
    });
  }
});
