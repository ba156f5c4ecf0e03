// The distillation part of a spec: defaults, schedules, several teachers, and every way a layer pair
// or teacher list can be wrong, each named by JSON pointer and by layer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scheduleAt } from '../../src/ml/spec-distillation.js';
import { checkSpec } from '../../src/ml/spec-check.js';
import { withDefaults, type EngineSpec } from '../../src/ml/spec.js';

const conv = (name: string, filters: number) => ({
  type: 'conv2d' as const,
  name,
  filters,
  kernel_size: 3,
  padding: 'same' as const,
  activation: 'relu' as const,
});
// mnist: the teacher's conv1 is 28×28×32, conv2 14×14×64; the student's conv1 28×28×8, conv2 14×14×16.
const base: EngineSpec = {
  dataset: { source: 'builtin:mnist' },
  teacher: { model: { preset: 'cnn-teacher' } },
  student: { model: { preset: 'cnn-student' } },
};
const withDistillation = (distillation: EngineSpec['distillation'], extra: Partial<EngineSpec> = {}): EngineSpec => ({ ...base, distillation, ...extra });
const problems = (spec: unknown) => checkSpec(spec);

describe('distillation spec', () => {
  it('accepts hint, attention and logits together, preset layer names, and schedules', () => {
    const spec = withDistillation({
      method: ['logits', 'hint', 'attention'],
      temperature: { from: 8, to: 2 },
      alpha: { from: 0.9, to: 0.5 },
      hint: { pairs: [{ student: 'conv2', teacher: 'conv2' }], beta: 0.5 },
      attention: {
        pairs: [
          { student: 'conv1', teacher: 'conv1', weight: 2 },
          { student: 'conv2', teacher: 'conv2' },
        ],
      },
    });
    assert.deepEqual(problems(spec), []);
    const d = withDefaults(spec).distillation;
    assert.deepEqual(d.hint, { pairs: [{ student: 'conv2', teacher: 'conv2', teacher_index: 0, weight: 1 }], beta: 0.5 });
    assert.equal(d.attention!.beta, 1);
    assert.deepEqual(d.temperature, { from: 8, to: 2 });
  });

  it('a schedule is linear from the first epoch to the last', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((e) => scheduleAt({ from: 8, to: 2 }, e, 4)),
      [8, 6, 4, 2],
    );
    assert.equal(scheduleAt({ from: 8, to: 2 }, 1, 1), 8);
    assert.equal(scheduleAt(3, 5, 9), 3);
    assert.ok(problems(withDistillation({ temperature: { from: 0, to: 2 } })).some((p) => p.path === '/distillation/temperature/from'));
    assert.ok(problems(withDistillation({ alpha: { from: 0.5, to: 1.5 } })).some((p) => p.path === '/distillation/alpha/to'));
  });

  it('explicit layer names are used as given and must be unique', () => {
    const student = {
      model: { input_shape: [28, 28, 1], layers: [conv('features', 4), { type: 'flatten' as const }, { type: 'dense' as const, name: 'features', units: 10 }] },
    };
    const dup = problems({ ...base, student });
    assert.deepEqual(
      dup.map((p) => p.path),
      ['/student/model/layers/2/name'],
    );
    assert.match(dup[0]!.message, /'features' is already used by layer 0/);
    assert.ok(
      problems({ ...base, student: { model: { layers: [{ type: 'dense', name: '1bad/name', units: 10 }] } } }).some(
        (p) => p.path === '/student/model/layers/0/name',
      ),
    );
  });

  const cases: Array<[string, EngineSpec, string, RegExp]> = [
    [
      'an unknown teacher layer',
      withDistillation({ method: ['hint'], hint: { pairs: [{ student: 'conv1', teacher: 'conv9' }] } }),
      '/distillation/hint/pairs/0/teacher',
      /the teacher has no layer named 'conv9' \(its layers: conv1, pool1, conv2/,
    ],
    [
      'an unknown student layer',
      withDistillation({
        method: ['attention'],
        attention: {
          pairs: [
            { student: 'conv1', teacher: 'conv1' },
            { student: 'nope', teacher: 'conv1' },
          ],
        },
      }),
      '/distillation/attention/pairs/1/student',
      /the student has no layer named 'nope'/,
    ],
    [
      'a default name of a layer that does not exist',
      withDistillation({ method: ['hint'], hint: { pairs: [{ student: 'student_9_dense', teacher: 'hidden' }] } }),
      '/distillation/hint/pairs/0/student',
      /no layer named 'student_9_dense'/,
    ],
    [
      'feature maps of different sizes for a hint',
      withDistillation({ method: ['hint'], hint: { pairs: [{ student: 'conv1', teacher: 'conv2' }] } }),
      '/distillation/hint/pairs/0/student',
      /student layer 'conv1' cannot be projected onto the teacher's layer 'conv2': feature maps \[28,28,8\] and \[14,14,64\] differ/,
    ],
    [
      'attention on a dense layer',
      withDistillation({ method: ['attention'], attention: { pairs: [{ student: 'conv1', teacher: 'hidden' }] } }),
      '/distillation/attention/pairs/0/teacher',
      /needs a feature map \[h,w,c\]: the teacher's layer 'hidden' outputs \[128\]/,
    ],
    [
      'a teacher index beyond the teachers',
      withDistillation({ method: ['hint'], hint: { pairs: [{ student: 'conv1', teacher: 'conv1', teacher_index: 1 }] } }),
      '/distillation/hint/pairs/0/teacher_index',
      /the job has 1 teacher/,
    ],
    ['a method without its settings', withDistillation({ method: ['logits', 'hint'] }), '/distillation/hint', /give distillation.hint.pairs/],
    [
      'settings without their method',
      withDistillation({ attention: { pairs: [{ student: 'conv1', teacher: 'conv1' }] } }),
      '/distillation/method',
      /does not include 'attention'/,
    ],
  ];
  for (const [what, spec, path, message] of cases) {
    it(`names ${what}`, () => {
      const found = problems(spec);
      assert.equal(found[0]?.path, path, JSON.stringify(found));
      assert.match(found[0]!.message, message);
    });
  }

  it('layer names a model_id teacher may have are left to the job (checked once loaded)', () => {
    const spec = { ...withDistillation({ method: ['hint'], hint: { pairs: [{ student: 'conv1', teacher: 'anything' }] } }), teacher: { model_id: 'mdl_x' } };
    assert.deepEqual(problems(spec), []);
  });
});

describe('several teachers', () => {
  const teachers = [{ model: { preset: 'cnn-teacher' as const } }, { model: { preset: 'hinton-teacher' as const } }];
  const multi = (extra: Partial<EngineSpec> = {}) => ({ dataset: base.dataset, student: base.student, teachers, ...extra }) as EngineSpec;

  it('are accepted instead of teacher, with optional weights and per-pair teachers', () => {
    const spec = multi({
      distillation: { teacher_weights: [2, 1], method: ['logits', 'hint'], hint: { pairs: [{ student: 'flatten', teacher: 'hidden1', teacher_index: 1 }] } },
    });
    assert.deepEqual(problems(spec), []);
    const resolved = withDefaults(spec);
    assert.equal(resolved.teacher, undefined);
    assert.equal(resolved.teachers!.length, 2);
    assert.deepEqual(resolved.distillation.teacher_weights, [2, 1]);
  });

  it('refuse a teacher of another output size, naming it', () => {
    const bad = multi({ teachers: [teachers[0]!, { model: { layers: [{ type: 'flatten' }, { type: 'dense', units: 7 }] } }] });
    const found = problems(bad);
    assert.deepEqual(
      found.map((p) => p.path),
      ['/teachers/1/model/layers/1/units'],
    );
    assert.match(found[0]!.message, /outputs 7 values but the dataset has 10 classes/);
    // Without known classes (an uploaded dataset), teachers must still agree with each other.
    const uploaded = {
      ...bad,
      dataset: { source: 'ds_1' },
      student: { model: { layers: [{ type: 'dense', units: 4 }] } },
      teachers: [{ model: { layers: [{ type: 'dense', units: 4 }] } }, { model: { layers: [{ type: 'dense', units: 7 }] } }],
    };
    assert.deepEqual(
      problems(uploaded).map((p) => [p.path, p.message]),
      [['/teachers/1/model', 'teacher 1 outputs 7 values but teacher 0 outputs 4: every teacher needs one output per class']],
    );
  });

  it('refuse weights that do not match the teachers, and teacher with teachers', () => {
    assert.deepEqual(
      problems(multi({ distillation: { teacher_weights: [1, 2, 3] } })).map((p) => p.path),
      ['/distillation/teacher_weights'],
    );
    assert.deepEqual(
      problems(multi({ distillation: { teacher_weights: [0, 0] } })).map((p) => p.message),
      ['at least one teacher weight must be above 0'],
    );
    assert.deepEqual(
      problems({ ...multi(), teacher: base.teacher }).map((p) => p.path),
      ['/teachers'],
    );
    assert.deepEqual(
      problems({ dataset: base.dataset, student: base.student }).map((p) => p.path),
      ['/teacher'],
    );
  });

  it('name the teacher of a pair that does not have the layer', () => {
    const found = problems(
      multi({ distillation: { method: ['attention'], attention: { pairs: [{ student: 'conv1', teacher: 'conv1', teacher_index: 1 }] } } }),
    );
    assert.equal(found[0]?.path, '/distillation/attention/pairs/0/teacher');
    assert.match(found[0]!.message, /teacher 1 has no layer named 'conv1' \(its layers: flatten, input_dropout, hidden1/);
  });
});
