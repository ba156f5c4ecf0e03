/**
 * examples/ is what the README's walkthrough submits: every spec there must be a job body the API
 * accepts (job-level fields) and the engine accepts (checkSpec), and the CSV example's data must parse
 * into the shape its spec expects.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { JobCreateBody } from '../../src/api/schemas/job.js';
import { parseCsv } from '../../src/ml/data/csv.js';
import { checkSpec, pickEngineSpec } from '../../src/ml/tfjs-free.js';
import { REPO_ROOT } from '../support/cli.js';

const EXAMPLES = join(REPO_ROOT, 'examples');
const specs = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json'));

describe('examples/', () => {
  test('holds the classic MNIST pair, a CNN pair and a CSV dataset job', () => {
    for (const name of ['mnist-hinton.json', 'cnn-pair.json', 'csv-digits.json']) assert.ok(specs.includes(name), `${name} present`);
  });

  for (const file of specs) {
    test(`${file} is a job body the API and the engine accept`, () => {
      const body = JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8'));
      assert.ok(Value.Check(JobCreateBody, body), `job-level fields: ${JSON.stringify([...Value.Errors(JobCreateBody, body)].slice(0, 3))}`);
      const spec = pickEngineSpec(body);
      const source = (spec.dataset as { source: string }).source;
      const facts = source.startsWith('file:') && source.endsWith('.csv') ? csvFacts(source.slice('file:'.length)) : undefined;
      assert.deepEqual(checkSpec(spec, facts), []);
    });
  }

  test('the CSV dataset parses: 1,000 digits, 49 features, 10 balanced classes', () => {
    const data = parseCsv(readFileSync(join(EXAMPLES, 'digits-7x7.csv')), { name: 'digits-7x7.csv' });
    assert.deepEqual(data.shape, [49]);
    assert.deepEqual(data.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(data.train.y.length, 1000);
    const perClass = new Array<number>(10).fill(0);
    for (const label of data.train.y) perClass[label]!++;
    assert.deepEqual(perClass, new Array(10).fill(100));
  });
});

function csvFacts(path: string) {
  const data = parseCsv(readFileSync(join(REPO_ROOT, path)));
  return { classes: data.classNames.length, inputShape: data.shape };
}
