// Dataset sources and every bad-data case: each is a DataError with a stable code and a message
// naming the problem.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { parseCsv } from '../../src/ml/data/csv.js';
import { datasetFromIdx, parseIdx, parseIdxPair } from '../../src/ml/data/idx.js';
import { loadMnist } from '../../src/ml/data/mnist.js';
import { splitDataset, validateDataset } from '../../src/ml/data/prepare.js';
import { generateSynthetic } from '../../src/ml/data/synthetic.js';
import { DataError } from '../../src/ml/errors.js';

/** An IDX file: magic 0x0000 | type | rank, big-endian dims, then bytes. */
function idx(dims: number[], data: number[], type = 0x08): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}
const images = (n: number) =>
  idx(
    [n, 2, 2],
    Array.from({ length: n * 4 }, (_, i) => (i * 37) % 256),
  );
const labels = (values: number[]) => idx([values.length], values);

function rejects(fn: () => unknown, code: string, mentions: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, mentions);
    return true;
  });
}

describe('IDX files', () => {
  it('reads images as [h, w, 1] in [0, 1] and labels as class indices, gzipped or not', () => {
    const plain = parseIdxPair(images(3), labels([0, 2, 1]));
    const zipped = parseIdxPair(gzipSync(images(3)), gzipSync(labels([0, 2, 1])));
    assert.deepEqual(plain.shape, [2, 2, 1]);
    assert.deepEqual(Array.from(plain.y), [0, 2, 1]);
    assert.equal(plain.x[1], Math.fround(37 / 255));
    assert.deepEqual(Array.from(zipped.x), Array.from(plain.x));
  });

  it('keeps given train and test files as the split, and names classes by label', () => {
    const ds = datasetFromIdx({ images: images(4), labels: labels([0, 1, 0, 1]) }, { images: images(2), labels: labels([2, 1]) });
    assert.deepEqual(ds.classNames, ['0', '1', '2']);
    const split = splitDataset(ds, { seed: 1, validationFraction: 0.25, testFraction: 0.2 });
    assert.equal(split.test.y.length, 2, 'the test file is the test split');
    assert.equal(split.train.y.length + split.validation.y.length, 4);
  });

  it('rejects a wrong magic number', () => {
    const bad = images(2);
    bad[2] = 0x42;
    rejects(() => parseIdx(bad, 'train images'), 'idx_bad_magic', /train images: magic number 0x00004203/);
    rejects(() => parseIdx(new TextEncoder().encode('label,x\n1,2\n')), 'idx_bad_magic', /not IDX/);
  });

  it('rejects a truncated file (header, data, or gzip stream)', () => {
    rejects(() => parseIdx(images(3).subarray(0, 20), 'images'), 'idx_truncated', /need 28 bytes, file has 20/);
    rejects(() => parseIdx(images(3).subarray(0, 6)), 'idx_truncated', /header needs 16 bytes/);
    const zipped = gzipSync(images(3));
    rejects(() => parseIdx(zipped.subarray(0, zipped.length - 8)), 'idx_truncated', /gzip/);
  });

  it('rejects an image/label count mismatch', () => {
    rejects(() => parseIdxPair(images(3), labels([0, 1])), 'count_mismatch', /3 images but labels holds 2 labels/);
  });

  it('rejects an empty file', () => {
    rejects(() => parseIdx(new Uint8Array(0), 'labels'), 'empty', /labels is empty/);
  });
});

describe('CSV files', () => {
  it('maps string labels to sorted class names and keeps features in column order', () => {
    const ds = parseCsv('a,species,b\n1,setosa,2\n3,virginica,4\n5,"setosa",6\n', { labelColumn: 'species' });
    assert.deepEqual(ds.classNames, ['setosa', 'virginica']);
    assert.deepEqual(Array.from(ds.train.y), [0, 1, 0]);
    assert.deepEqual(Array.from(ds.train.x), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ds.shape, [2]);
  });

  it('orders numeric labels numerically', () => {
    assert.deepEqual(parseCsv('label,x\n10,1\n9,2\n2,3\n').classNames, ['2', '9', '10']);
  });

  it('rejects a non-numeric cell, naming line and column', () => {
    rejects(() => parseCsv('label,x,y\na,1,2\nb,3,four\n'), 'csv_non_numeric', /line 3, column "y": "four" is not a number/);
  });

  it('rejects NaN and infinite values', () => {
    rejects(() => parseCsv('label,x\na,1\nb,NaN\n'), 'non_finite', /line 3, column "x"/);
    rejects(() => parseCsv('label,x\na,Infinity\nb,1\n'), 'non_finite', /line 2/);
  });

  it('rejects an empty file or a header without rows', () => {
    rejects(() => parseCsv(''), 'empty', /is empty/);
    rejects(() => parseCsv('label,x\n'), 'empty', /no rows/);
  });

  it('rejects a missing label column and ragged rows', () => {
    rejects(() => parseCsv('y,x\n1,2\n', { labelColumn: 'label' }), 'csv_bad_header', /no column named "label"/);
    rejects(() => parseCsv('label,x\n1,2,3\n'), 'csv_ragged_row', /line 2: 3 cells/);
  });
});

describe('dataset checks and splits', () => {
  it('rejects a dataset with one class only', () => {
    rejects(() => validateDataset(parseCsv('label,x\ncat,1\ncat,2\n')), 'one_class', /only class "cat"/);
  });

  it('rejects NaN or infinite inputs from any source', () => {
    const ds = generateSynthetic({ samples: 20, features: 4 });
    ds.train.x[9] = Number.POSITIVE_INFINITY;
    rejects(() => validateDataset(ds), 'non_finite', /train sample 2, value 1 is Infinity/);
  });

  it('rejects an empty training set', () => {
    rejects(() => validateDataset({ shape: [2], classNames: ['a', 'b'], train: { x: new Float32Array(0), y: new Int32Array(0) } }), 'empty', /no samples/);
  });

  it('splits deterministically by seed, disjointly, honouring limits', () => {
    const ds = generateSynthetic({ samples: 200, features: 3 });
    const opts = { validationFraction: 0.1, testFraction: 0.2, limit: { train: 50 } };
    const a = splitDataset(ds, { seed: 7, ...opts });
    const b = splitDataset(ds, { seed: 7, ...opts });
    const c = splitDataset(ds, { seed: 8, ...opts });
    assert.deepEqual(Array.from(a.train.x), Array.from(b.train.x));
    assert.notDeepEqual(Array.from(a.train.x), Array.from(c.train.x));
    assert.deepEqual([a.train.y.length, a.validation.y.length, a.test.y.length], [50, 16, 40]);
    const key = (x: Float32Array, i: number) => x.subarray(i * 3, i * 3 + 3).join();
    const testRows = new Set(Array.from({ length: 40 }, (_, i) => key(a.test.x, i)));
    for (let i = 0; i < 50; i++) assert.ok(!testRows.has(key(a.train.x, i)), 'a training sample is also in the test split');
  });
});

describe('builtin sources', () => {
  it('builtin:mnist holds the ~10,000 real digits, 28×28×1 in [0, 1], all ten classes', () => {
    const ds = loadMnist();
    assert.deepEqual(ds.shape, [28, 28, 1]);
    assert.ok(ds.train.y.length >= 9000, `${ds.train.y.length} digits`);
    assert.equal(new Set(ds.train.y).size, 10);
    assert.ok(ds.train.x.every((v) => v >= 0 && v <= 1));
  });

  it('builtin:synthetic follows its parameters and is the same task for the same options', () => {
    const a = generateSynthetic({ classes: 4, shape: [4, 4, 1], samples: 100, seed: 3 });
    assert.deepEqual(a.shape, [4, 4, 1]);
    assert.equal(a.train.x.length, 100 * 16);
    assert.deepEqual(a.classNames, ['class_0', 'class_1', 'class_2', 'class_3']);
    assert.deepEqual(Array.from(generateSynthetic({ classes: 4, shape: [4, 4, 1], samples: 100, seed: 3 }).train.x), Array.from(a.train.x));
  });
});
