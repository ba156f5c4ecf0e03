/** What clients are told of a failed job: the engine's words when fit, never a server path or a stack. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { looksInternal, publicJobError } from '../../src/worker/public-error.js';

describe('publicJobError', () => {
  it('keeps an engine message written for a person, JSON pointers into the spec included', () => {
    for (const [code, message] of [
      ['invalid_spec', '/student/model/layers/2/units: must be <= 65536 (and 1 more)'],
      ['diverged', 'the teacher diverged in epoch 2: its training loss became NaN; try a lower learning_rate (now 10)'],
      ['model_shape_mismatch', 'teacher model "mdl_x" outputs [3] but the dataset has 4 classes'],
      ['non_finite', 'train sample 3, value 7 is NaN (inputs must be finite numbers)'],
    ] as const) {
      assert.deepEqual(publicJobError(code, message), { code, message });
    }
  });

  it("replaces server paths, stacks and raw dependency errors with the code's message", () => {
    const raw = [
      "ENOENT: no such file or directory, open '/tmp/distill-test-x/tenants/ten_1/models/missing/model.json'",
      "Cannot find package '@tensorflow/tfjs-node' imported from /srv/app/dist/ml/backend/index.js",
      'Error: boom\n    at run (/srv/app/dist/worker/child.js:50:21)',
      'failed to read file:///srv/app/x.bin',
      'C:\\app\\dist\\x.js failed',
    ];
    for (const message of raw) {
      assert.ok(looksInternal(message), message);
      const out = publicJobError('model_unreadable', message);
      assert.equal(out.code, 'model_unreadable');
      assert.ok(!looksInternal(out.message) && !out.message.includes('/srv'), out.message);
    }
    assert.match(publicJobError('internal_error', 'anything at all').message, /unexpectedly/);
  });
});
