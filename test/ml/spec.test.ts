// What a user gets back for a spec: defaults filled in, and problems that name the field at fault.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSpec } from '../../src/ml/spec-check.js';
import { withDefaults, type EngineSpec } from '../../src/ml/spec.js';

const base: EngineSpec = {
  dataset: { source: 'builtin:mnist' },
  teacher: { model: { preset: 'hinton-teacher' } },
  student: { model: { preset: 'hinton-student' } },
};
const paths = (spec: unknown) => checkSpec(spec).map((p) => p.path);

describe('job spec', () => {
  it('accepts the presets on mnist and fills every documented default', () => {
    assert.deepEqual(checkSpec(base), []);
    const full = withDefaults(base);
    assert.deepEqual(full.student.training, { epochs: 5, batch_size: 128, optimizer: 'adam', learning_rate: 0.001 });
    assert.deepEqual(full.distillation, { temperature: 4, alpha: 0.9, baseline: false, method: ['logits'], soft_targets: 'auto' });
    assert.equal(full.seed, 42);
    assert.equal(full.dataset.validation_fraction, 0.1);
  });

  it('names schema violations by JSON pointer', () => {
    assert.ok(paths({ ...base, distillation: { temperature: 0 } }).includes('/distillation/temperature'));
    assert.ok(paths({ ...base, distillation: { alpha: 1.5 } }).includes('/distillation/alpha'));
    const unknownField = checkSpec({ ...base, student: { model: { preset: 'hinton-student' }, training: { epoch: 3 } } });
    assert.ok(
      unknownField.some((p) => p.path === '/student/training' && /epoch/.test(p.message)),
      JSON.stringify(unknownField),
    );
    // A value outside a set of constants is told the set, once.
    const preset = checkSpec({ ...base, teacher: { model: { preset: 'hinton-big' } } }).filter(
      (p) => p.path === '/teacher/model/preset' && !/anyOf/.test(p.message),
    );
    assert.deepEqual(
      preset.map((p) => p.message),
      ['must be one of "hinton-teacher", "hinton-student", "cnn-teacher", "cnn-student", "mlp-tiny", "linear"'],
    );
  });

  it('says which schema keyword failed, and which property is missing, so callers need not read the wording', () => {
    const problems = checkSpec({ ...base, student: { model: { layers: [{ type: 'conv2d', filters: 2 }] } }, distillation: { alpha: 1.5 } });
    const missing = problems.find((p) => p.path === '/student/model/layers/0');
    assert.deepEqual(
      { keyword: missing?.keyword, missingProperty: missing?.missingProperty },
      { keyword: 'required', missingProperty: 'kernel_size' },
      JSON.stringify(problems),
    );
    assert.equal(problems.find((p) => p.path === '/distillation/alpha')?.keyword, 'maximum', JSON.stringify(problems));
    const untyped = checkSpec({ ...base, student: { model: { layers: [{ units: 4 }] } } }).find((p) => p.path === '/student/model/layers/0');
    assert.deepEqual({ keyword: untyped?.keyword, missingProperty: untyped?.missingProperty }, { keyword: 'required', missingProperty: 'type' });
  });

  it('names the layer index and field of a layer list that cannot be built', () => {
    const spec = {
      ...base,
      student: { model: { layers: [{ type: 'flatten' }, { type: 'dense', units: 64, activation: 'relu' }, { type: 'dense', units: 7 }] } },
    };
    const problems = checkSpec(spec);
    assert.deepEqual(
      problems.map((p) => p.path),
      ['/student/model/layers/2/units'],
    );
    assert.match(problems[0]!.message, /outputs 7 values but the dataset has 10 classes/);
  });

  it('rejects conv2d on a flat input without input_shape', () => {
    const spec = {
      dataset: { source: 'builtin:synthetic', options: { features: 64 } },
      teacher: { model: { preset: 'mlp-tiny' } },
      student: { model: { layers: [{ type: 'conv2d', filters: 4, kernel_size: 3 }, { type: 'flatten' }, { type: 'dense', units: 10 }] } },
    };
    const problems = checkSpec(spec);
    assert.equal(problems[0]?.path, '/student/model/layers/0/type');
    assert.match(problems[0]!.message, /input_shape/);
    // With an input shape the same layers are fine (64 features are read as an 8×8 image).
    assert.deepEqual(checkSpec({ ...spec, student: { model: { ...spec.student.model, input_shape: [8, 8, 1] } } }), []);
  });

  it('rejects a kernel larger than its input and a dense layer on an image', () => {
    const tooBig = {
      ...base,
      student: {
        model: { input_shape: [4, 4, 1], layers: [{ type: 'conv2d', filters: 2, kernel_size: 5 }, { type: 'flatten' }, { type: 'dense', units: 10 }] },
      },
    };
    assert.deepEqual(paths(tooBig), ['/student/model/layers/0/kernel_size']);
    const noFlatten = {
      ...base,
      teacher: {
        model: {
          layers: [
            { type: 'conv2d', filters: 2, kernel_size: 3 },
            { type: 'dense', units: 10 },
          ],
        },
      },
    };
    assert.deepEqual(paths(noFlatten), ['/teacher/model/layers/1/type']);
  });

  it('rejects an input shape the dataset cannot be resized to', () => {
    const spec = { ...base, student: { model: { preset: 'hinton-student', input_shape: [16, 16, 3] } } };
    assert.deepEqual(paths(spec), ['/student/model/input_shape']);
  });

  it('uses the classes of a loaded dataset when the caller knows them', () => {
    const uploaded = { ...base, dataset: { source: 'ds_123' }, student: { model: { layers: [{ type: 'dense', units: 3 }] } } };
    assert.deepEqual(checkSpec(uploaded), [], 'unknown classes: nothing to say yet');
    assert.deepEqual(
      checkSpec(uploaded, { classes: 5, inputShape: [4] }).map((p) => p.path),
      ['/student/model/layers/0/units'],
    );
  });
});
