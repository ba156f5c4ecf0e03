/**
 * The submit-time memory estimate (src/ml/memory-estimate.ts): a pure function of the spec that the
 * API runs without TensorFlow.js, growing with every input that costs memory and naming its field.
 * How close it is to measured peaks is bench/memory-estimate.ts's job.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { estimateJobMemory, largestPart } from '../../src/ml/memory-estimate.js';
import type { EngineSpec } from '../../src/ml/spec.js';

const base: EngineSpec = {
  dataset: { source: 'builtin:synthetic', options: { samples: 2000, features: 64, classes: 4 } },
  teacher: { model: { preset: 'mlp-tiny' } },
  student: { model: { preset: 'linear' } },
};
const mib = (spec: EngineSpec) => estimateJobMemory({ spec }).bytes / 2 ** 20;
const largest = (spec: EngineSpec) => largestPart(estimateJobMemory({ spec }))?.field;

describe('estimateJobMemory', () => {
  it('grows with each input that costs memory, and names it as the largest part', () => {
    const small = mib(base);
    const cases: Array<[string, EngineSpec, string | RegExp]> = [
      [
        'features',
        { ...base, dataset: { source: 'builtin:synthetic', options: { samples: 2000, features: 100_000, classes: 4 } } },
        '/dataset/options/features',
      ],
      ['samples', { ...base, dataset: { source: 'builtin:synthetic', options: { samples: 1_000_000, features: 64, classes: 4 } } }, '/dataset/options/samples'],
      [
        'resized input',
        {
          ...base,
          dataset: { source: 'builtin:synthetic', options: { samples: 2000, shape: [8, 8, 1], classes: 4 } },
          student: { model: { preset: 'linear', input_shape: [256, 256, 1] } },
        },
        '/student/model/input_shape',
      ],
      [
        'batch size',
        { ...base, dataset: { source: 'builtin:mnist' }, teacher: { model: { preset: 'cnn-teacher' }, training: { batch_size: 8192 } } },
        '/teacher/training/batch_size',
      ],
      [
        'wide teachers',
        {
          ...base,
          teacher: undefined,
          teachers: [0, 1, 2].map(() => ({
            model: {
              layers: [
                { type: 'dense' as const, units: 200_000 },
                { type: 'dense' as const, units: 4 },
              ],
            },
          })),
        },
        /^\/teachers\/0\/(model|training\/batch_size)$/,
      ],
    ];
    for (const [what, spec, field] of cases) {
      assert.ok(mib(spec) > small * 2, `${what}: ${mib(spec)} MiB vs ${small} MiB`);
      assert.match(largest(spec) ?? '', typeof field === 'string' ? new RegExp(`^${field}$`) : field, what);
    }
  });

  it('counts a teacher given by id from what the API knows of the model', () => {
    const spec: EngineSpec = { ...base, teacher: { model_id: 'mdl_x' } };
    const without = estimateJobMemory({ spec }).bytes;
    const estimate = estimateJobMemory({ spec, givenTeachers: { mdl_x: { parameters: 50_000_000, inputShape: [64], outputShape: [4] } } });
    assert.ok(estimate.bytes - without >= 2 * 4 * 50_000_000, 'its weights, read and built');
    assert.equal(largestPart(estimate)?.field, '/teacher/model_id');
  });

  it('an uploaded dataset is sized by its rows, not by the spec', () => {
    const spec: EngineSpec = { ...base, dataset: { source: 'ds_x' } };
    const small = estimateJobMemory({ spec, dataset: { inputShape: [64], classes: 4, trainSamples: 100 } }).bytes;
    const big = estimateJobMemory({ spec, dataset: { inputShape: [64], classes: 4, trainSamples: 1_000_000, testSamples: 10_000 } });
    assert.ok(big.bytes > small + 4 * 64 * 1_000_000);
    assert.equal(largestPart(big)?.field, '/dataset/source');
  });

  it('the submit path (job size, references, the jobs route) does not load TensorFlow.js', () => {
    const script = `for (const m of ['src/jobs/job-size.ts', 'src/jobs/references.ts', 'src/api/routes/jobs.ts']) await import(new URL('../../' + m, 'file://${process.cwd()}/x/y/').href); console.log(typeof globalThis._tfengine);`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
    assert.equal(out, 'undefined', 'tfjs-core creates its global engine when it is imported');
  });
});
