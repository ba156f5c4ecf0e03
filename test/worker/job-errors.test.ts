/** A failed job's `error.code`: every code the worker can set is documented, and only those. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { engineFailureCode, JOB_ERROR_CODES } from '../../src/jobs/job-errors.js';
import { CheckpointError, DataError, DivergedError, JobCancelledError, MemoryLimitError, ModelError, SpecError } from '../../src/ml/index.js';
import { publicJobError } from '../../src/worker/public-error.js';

const documented: string[] = parse(readFileSync('openapi.yaml', 'utf8')).components.schemas.JobError.properties.code.enum;

describe('job error codes', () => {
  it('openapi.yaml lists exactly the codes a job can fail with', () => {
    assert.deepEqual([...documented].sort(), [...JOB_ERROR_CODES].sort());
  });

  it('every engine error fails its job with a documented code', () => {
    const errors = [
      new DataError('csv_ragged_row', 'x'),
      new ModelError('model_unreadable', 'x'),
      new SpecError([{ path: '/seed', message: 'must be an integer' }]),
      new CheckpointError('x'),
      new DivergedError('x'),
      new MemoryLimitError('x'),
    ];
    for (const err of errors) assert.ok(documented.includes(engineFailureCode(err.code)), err.code);
    // A cancel the worker did not ask for is not the client's doing.
    assert.equal(engineFailureCode(new JobCancelledError().code), 'internal_error');
    assert.equal(engineFailureCode(new ModelError('invalid_model', 'x').code), 'model_unreadable');
  });

  it('every code has a message for a client when the raw one is not fit to show', () => {
    for (const code of JOB_ERROR_CODES) {
      const { message } = publicJobError(code, 'Error: boom\n    at run (/srv/app/dist/worker/child.js:50:21)');
      assert.ok(message.length > 0 && !message.includes('/srv'), `${code}: ${message}`);
    }
  });
});
