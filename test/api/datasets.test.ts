import assert from 'node:assert/strict';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { newId } from '../../src/ids.js';
import { loadMnist } from '../../src/ml/data/mnist.js';
import { generateSynthetic } from '../../src/ml/data/synthetic.js';
import { request, waitFor } from '../support/http.js';
import { startStack, type Stack } from '../support/stack.js';

const MAX_UPLOAD_BYTES = 3_000_000;

/** An IDX file: 0x0000, type 0x08 (unsigned bytes), rank, big-endian dimensions, then the data. */
function idx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** `count` real digits spread over all ten classes, from `offset`, as IDX images and labels. */
function digits(count: number, offset = 0): { images: Buffer; labels: Buffer } {
  const mnist = loadMnist();
  const total = mnist.train.y.length;
  const pixels = new Uint8Array(count * 784);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const from = (Math.floor((i * total) / count) + offset) % total;
    for (let p = 0; p < 784; p++) pixels[i * 784 + p] = Math.round(mnist.train.x[from * 784 + p]! * 255);
    labels[i] = mnist.train.y[from]!;
  }
  return { images: idx([count, 28, 28], pixels), labels: idx([count], labels) };
}

/** A CSV of 16 numeric features and a string label column named `species`. */
function speciesCsv(samples = 400): string {
  const names = ['heron', 'crane', 'stork', 'egret'];
  const ds = generateSynthetic({ samples, classes: 4, features: 16, seed: 3 });
  const header = [...Array.from({ length: 16 }, (_, j) => `f${j}`), 'species'].join(',');
  const rows = Array.from({ length: samples }, (_, i) =>
    [...Array.from(ds.train.x.subarray(i * 16, (i + 1) * 16), (v) => v.toFixed(4)), names[ds.train.y[i]!]].join(','),
  );
  return `${header}\n${rows.join('\n')}\n`;
}

type FormFiles = Record<string, Buffer | string | [Buffer | string, string]>;

/** A multipart POST, as a browser form or `curl -F` sends it. */
async function postForm(stack: Stack, path: string, files: FormFiles, fields: Record<string, string> = {}, key = stack.keys.a.key) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [name, file] of Object.entries(files)) {
    const [bytes, filename] = Array.isArray(file) ? file : [file, name];
    form.append(name, new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), filename);
  }
  const response = await fetch(`${stack.url}${path}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

const quickJobOn = (source: string) => ({
  name: `on ${source}`,
  dataset: { source, validation_fraction: 0.1 },
  teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 2, learning_rate: 0.01 } },
  student: { model: { preset: 'linear' }, training: { epochs: 2, learning_rate: 0.01 } },
  seed: 5,
});

describe('datasets: uploads, listing, jobs on them, deletion', () => {
  let stack: Stack;
  const ids: Record<string, string> = {};
  const storedFolders = async () => (await readdir(join(stack.config.ARTIFACT_DIR, 'datasets')).catch(() => [] as string[])).sort();
  const rowIds = async () => (await stack.db.dataset.findMany({ select: { id: true } })).map((r) => r.id).sort();

  before(async () => {
    // No worker at first: jobs stay queued, so deleting what they use is refused deterministically.
    // This process also builds the IDX files from 10,000 digits: no load shedding on event-loop lag.
    stack = await startStack({ workers: 0, env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) } });
  });
  after(() => stack.stop());

  test('gzipped IDX files with a test pair become a ready dataset', async () => {
    const train = digits(600);
    const testSet = digits(200, 7);
    const response = await postForm(
      stack,
      '/v1/datasets',
      {
        train_images: [gzipSync(train.images), 'train-images-idx3-ubyte.gz'],
        train_labels: gzipSync(train.labels),
        test_images: gzipSync(testSet.images),
        test_labels: gzipSync(testSet.labels),
      },
      { name: 'digits (gzipped)' },
    );
    assert.equal(response.status, 201, JSON.stringify(response.body));
    const ds = response.body;
    assert.match(ds.id, /^ds_[0-9a-z]{26}$/);
    assert.equal(response.headers.get('location'), `/v1/datasets/${ds.id}`);
    assert.equal(ds.object, 'dataset');
    assert.equal(ds.name, 'digits (gzipped)');
    assert.equal(ds.format, 'idx');
    assert.equal(ds.status, 'ready');
    assert.equal(ds.error, null);
    assert.equal(ds.num_train, 600);
    assert.equal(ds.num_test, 200);
    assert.deepEqual(ds.input_shape, [28, 28, 1]);
    assert.equal(ds.num_classes, 10);
    assert.deepEqual(ds.class_names, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.ok(ds.bytes > 0 && ds.bytes < train.images.length, 'bytes as uploaded (gzipped)');
    assert.match(ds.sha256, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(ds.created_at)));
    ids.gz = ds.id;
  });

  test('plain IDX files (train only) become a ready dataset; the same bytes again are the same dataset', async () => {
    const train = digits(500, 3);
    const first = await postForm(stack, '/v1/datasets', { train_images: train.images, train_labels: train.labels });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.num_train, 500);
    assert.equal(first.body.num_test, null);
    assert.equal(first.body.bytes, train.images.length + train.labels.length);
    ids.plain = first.body.id;
    const again = await postForm(stack, '/v1/datasets', { train_images: train.images, train_labels: train.labels });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    // Another tenant uploading the same bytes gets its own dataset.
    const other = await postForm(stack, '/v1/datasets', { train_images: train.images, train_labels: train.labels }, {}, stack.keys.b.key);
    assert.equal(other.status, 201);
    assert.notEqual(other.body.id, first.body.id);
    ids.otherTenant = other.body.id;
  });

  test('a CSV with its label column named in a field becomes a ready dataset', async () => {
    const response = await postForm(stack, '/v1/datasets', { csv: [speciesCsv(), 'birds.csv'] }, { label_column: 'species', name: 'birds' });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    assert.equal(response.body.format, 'csv');
    assert.equal(response.body.num_train, 400);
    assert.deepEqual(response.body.input_shape, [16]);
    assert.deepEqual(response.body.class_names, ['crane', 'egret', 'heron', 'stork']);
    ids.csv = response.body.id;
  });

  describe('a refused upload answers 4xx naming the problem and leaves no row and no file', () => {
    const good = digits(100, 11);
    const badMagic = Buffer.from(good.images);
    badMagic.writeUInt32BE(0x12345678, 0);
    const countMismatch = digits(99, 11).labels;
    const cases: Array<[string, FormFiles, Record<string, string>, number, string, RegExp]> = [
      ['bad magic number', { train_images: badMagic, train_labels: good.labels }, {}, 400, 'idx_bad_magic', /train images: magic number 0x12345678 is not IDX/],
      [
        'truncated images',
        { train_images: good.images.subarray(0, 5000), train_labels: good.labels },
        {},
        400,
        'idx_truncated',
        /train images: dimensions \[100,28,28\] need 78416 bytes, file has 5000/,
      ],
      [
        'truncated gzip stream',
        { train_images: gzipSync(good.images).subarray(0, 300), train_labels: good.labels },
        {},
        400,
        'idx_truncated',
        /train images: gzip stream is truncated/,
      ],
      [
        'image and label counts differ',
        { train_images: good.images, train_labels: countMismatch },
        {},
        400,
        'count_mismatch',
        /train images holds 100 images but train labels holds 99 labels/,
      ],
      [
        'a test pair given by half',
        { train_images: good.images, train_labels: good.labels, test_images: good.images },
        {},
        400,
        'invalid_upload',
        /test_images and test_labels together/,
      ],
      ['no labels', { train_images: good.images }, {}, 400, 'invalid_upload', /needs train_labels/],
      [
        'an unknown file field',
        { train_images: good.images, train_labels: good.labels, extra: good.labels },
        {},
        400,
        'invalid_upload',
        /"extra" is not part of a idx dataset/,
      ],
      ['CSV with a non-numeric feature', { csv: 'a,b,label\n1,2,x\n3,oops,y\n' }, {}, 400, 'csv_non_numeric', /line 3, column "b": "oops" is not a number/],
      ['CSV without the named label column', { csv: speciesCsv(20) }, { label_column: 'genus' }, 400, 'csv_bad_header', /no column named "genus"/],
      ['CSV with a ragged row', { csv: 'a,label\n1,x\n2\n' }, {}, 400, 'csv_ragged_row', /line 3: 1 cells, header has 2/],
      ['CSV with a NUL in a label', { csv: 'a,label\n1,x\n2,y\u0000\n' }, {}, 400, 'csv_bad_label', /line 3, column "label": the label holds a NUL character/],
      [
        'a NUL in the name field',
        { csv: speciesCsv(20) },
        { label_column: 'species', name: 'a\u0000b' },
        400,
        'invalid_upload',
        /field "name" must not contain the NUL character/,
      ],
      ['CSV of one class', { csv: 'a,label\n1,x\n2,x\n' }, {}, 400, 'one_class', /only class "x"/],
      [
        'an oversized upload',
        { csv: Buffer.alloc(MAX_UPLOAD_BYTES + 1000, 0x31) },
        {},
        413,
        'upload_too_large',
        new RegExp(`limit of ${MAX_UPLOAD_BYTES} bytes \\(MAX_UPLOAD_BYTES\\)`),
      ],
      [
        'a gzip bomb',
        { train_images: gzipSync(idx([5000, 28, 28], new Uint8Array(5000 * 784))), train_labels: good.labels },
        {},
        413,
        'upload_too_large',
        /train images unpacked is larger than/,
      ],
    ];
    for (const [name, files, fields, status, reason, detail] of cases) {
      test(name, async () => {
        const response = await postForm(stack, '/v1/datasets', files, fields);
        assert.equal(response.status, status, JSON.stringify(response.body));
        assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
        assert.ok(response.body.code === reason || response.body.reason === reason, `code or reason ${reason}: ${JSON.stringify(response.body)}`);
        assert.match(response.body.detail, detail);
      });
    }

    test('JSON instead of a form is 415', async () => {
      const response = await request(stack.url, 'POST', '/v1/datasets', { source: '/etc/passwd' });
      assert.equal(response.status, 415);
    });

    test('nothing of the refused uploads was stored', async () => {
      const rows = await rowIds();
      assert.deepEqual(rows, [ids.gz, ids.plain, ids.otherTenant, ids.csv].sort());
      assert.deepEqual(await storedFolders(), rows, 'one folder per dataset row, no orphans');
      for (const id of rows) {
        const files = await readdir(join(stack.config.ARTIFACT_DIR, 'datasets', id));
        assert.ok(
          files.every((f) => !f.endsWith('.tmp')),
          `no temporary files in ${id}: ${files}`,
        );
      }
    });
  });

  test("the list starts with the built-in datasets and pages through the tenant's uploads", async () => {
    const all = (await request(stack.url, 'GET', '/v1/datasets?limit=100')).body;
    assert.equal(all.object, 'list');
    assert.deepEqual(
      all.data.map((d: { id: string }) => d.id),
      ['builtin:mnist', 'builtin:synthetic', ids.csv, ids.plain, ids.gz],
    );
    assert.equal(all.data[0].status, 'ready');
    assert.deepEqual(all.data[0].input_shape, [28, 28, 1]);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await request(stack.url, 'GET', `/v1/datasets?limit=2${after ? `&after=${after}` : ''}`)).body;
      seen.push(...page.data.map((d: { id: string }) => d.id));
      if (!page.has_more) break;
      after = page.data.at(-1).id;
    }
    assert.deepEqual(
      seen,
      all.data.map((d: { id: string }) => d.id),
    );
    const admin = (await request(stack.url, 'GET', '/v1/datasets?limit=100', undefined, { authorization: `Bearer ${stack.keys.admin.key}` })).body;
    assert.ok(
      admin.data.some((d: { id: string }) => d.id === ids.otherTenant),
      "an admin key sees every tenant's",
    );
  });

  test("get by id; another tenant's, unknown and malformed ids are 404", async () => {
    const got = await request(stack.url, 'GET', `/v1/datasets/${ids.csv}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.name, 'birds');
    assert.equal((await request(stack.url, 'GET', '/v1/datasets/builtin:mnist')).body.num_classes, 10);
    for (const id of [ids.otherTenant, 'ds_00000000000000000000000000', '..%2F..%2Fetc', 'mdl_01m8g85xb1pmddbr7trj3zasr8']) {
      for (const method of ['GET', 'DELETE']) {
        const response = await request(stack.url, method, `/v1/datasets/${id}`);
        assert.equal(response.status, 404, `${method} ${id}`);
        assert.equal(response.body.code, 'not_found');
      }
    }
    const builtin = await request(stack.url, 'DELETE', '/v1/datasets/builtin:mnist');
    assert.equal(builtin.status, 403);
  });

  test('a job naming a dataset that does not fit, or does not exist, is refused naming both shapes', async () => {
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      [
        'student input shape',
        { ...quickJobOn(ids.gz!), student: { model: { preset: 'linear', input_shape: [10] } } },
        '/student/model/input_shape',
        /dataset samples of shape \[28,28,1\] cannot be resized to \[10\]/,
      ],
      [
        'student outputs',
        { ...quickJobOn(ids.csv!), student: { model: { layers: [{ type: 'dense', units: 10 }] } } },
        '/student/model/layers/0/units',
        /outputs 10 values but the dataset has 4 classes/,
      ],
      ['unknown dataset', quickJobOn('ds_00000000000000000000000000'), '/dataset/source', /dataset ds_0{26} does not exist/],
      ["another tenant's dataset", quickJobOn(ids.otherTenant!), '/dataset/source', /does not exist/],
      ['not an id', quickJobOn('../../etc/passwd'), '/dataset/source', /neither builtin:mnist, builtin:synthetic nor a dataset id/],
    ];
    for (const [name, body, field, message] of cases) {
      const response = await request(stack.url, 'POST', '/v1/jobs', body);
      assert.equal(response.status, 400, `${name}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.errors[0].field, field, name);
      assert.match(response.body.detail, message, name);
    }
    assert.equal(await stack.db.job.count(), 0);
  });

  const jobs: Record<string, string> = {};
  test('jobs on the IDX (gzipped and plain) and CSV uploads succeed; a dataset in use cannot be deleted until they end', async () => {
    for (const which of ['gz', 'plain', 'csv']) {
      const created = await request(stack.url, 'POST', '/v1/jobs', quickJobOn(ids[which]!));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      jobs[which] = created.body.id;
    }
    const refused = await request(stack.url, 'DELETE', `/v1/datasets/${ids.gz}`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'dataset_in_use');
    assert.deepEqual(refused.body.jobs, [jobs.gz]);
    assert.match(refused.body.detail, new RegExp(jobs.gz!));

    await stack.startWorker();
    for (const [which, id] of Object.entries(jobs)) {
      const job = await waitFor(
        `job on ${which} to end`,
        async () => {
          const { body } = await request(stack.url, 'GET', `/v1/jobs/${id}`);
          return ['succeeded', 'failed', 'cancelled'].includes(body.status) && body;
        },
        180_000,
        500,
      );
      assert.equal(job.status, 'succeeded', `job on ${which}: ${JSON.stringify(job.error)}`);
      assert.ok(
        job.result.student.test_accuracy > (which === 'csv' ? 0.4 : 0.3),
        `${which}: student accuracy ${job.result.student.test_accuracy} above chance`,
      );
    }

    const deleted = await request(stack.url, 'DELETE', `/v1/datasets/${ids.gz}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(deleted.body, { id: ids.gz, object: 'dataset', deleted: true });
    assert.equal((await request(stack.url, 'GET', `/v1/datasets/${ids.gz}`)).status, 404);
    assert.equal(await stack.db.dataset.count({ where: { id: ids.gz } }), 0);
    assert.ok(!(await storedFolders()).includes(ids.gz!), 'its files are gone');
    // The job that used it keeps its record and its artifacts.
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${jobs.gz}/artifacts`)).body.data.length > 0, true);
  });

  test("exports after the fact score a job's variants on its upload's test split; with the upload deleted, the files are still made", async () => {
    const exported = await request(stack.url, 'POST', `/v1/jobs/${jobs.csv}/exports`, { quantize: ['float16'] });
    assert.equal(exported.status, 200, JSON.stringify(exported.body));
    const csvJob = (await request(stack.url, 'GET', `/v1/jobs/${jobs.csv}`)).body;
    const rows = csvJob.result.exports.variants as Array<{ artifact: string; runtime: string; test_accuracy: number; agreement_with_float: number }>;
    assert.deepEqual(rows.map((v) => `${v.artifact} ${v.runtime}`).sort(), ['student tfjs', 'student-float16 tfjs']);
    assert.equal(rows.find((v) => v.artifact === 'student')!.test_accuracy, csvJob.result.student.test_accuracy, 'the same test split as the job');
    assert.ok(rows.find((v) => v.artifact === 'student-float16')!.agreement_with_float >= 0.95, 'float16 weights agree with the float student');

    // The gzipped IDX upload was deleted above: its job's test split cannot be rebuilt.
    const without = await request(stack.url, 'POST', `/v1/jobs/${jobs.gz}/exports`, { formats: ['onnx'], quantize: ['uint8'] });
    assert.equal(without.status, 200, JSON.stringify(without.body));
    const files = (without.body.data as Array<{ kind: string; file: string }>).map((a) => `${a.kind}/${a.file}`);
    for (const file of ['student/model.onnx', 'teacher/model.onnx', 'student-uint8/model.json', 'student-uint8/model.onnx'])
      assert.ok(files.includes(file), file);
    const gzJob = (await request(stack.url, 'GET', `/v1/jobs/${jobs.gz}`)).body;
    assert.equal(gzJob.result.exports, undefined, 'no rows without the test split');
  });

  test("a delete racing a submission: the submission waits for the delete's row lock, then answers 409 reference_deleted", async () => {
    const upload = await postForm(stack, '/v1/datasets', { csv: [speciesCsv(120), 'race.csv'] }, { label_column: 'species' });
    assert.equal(upload.status, 201, JSON.stringify(upload.body));
    const id = upload.body.id as string;
    // The delete's first step, held open: the row lock deleteDataset takes before it looks for jobs.
    const deleter = new pg.Client(stack.env.DATABASE_URL);
    await deleter.connect();
    try {
      await deleter.query('BEGIN');
      await deleter.query('SELECT 1 FROM datasets WHERE id = $1 FOR UPDATE', [id]);
      const submission = request(stack.url, 'POST', '/v1/jobs', quickJobOn(id));
      await waitFor(
        "the submission to wait for the delete's row lock",
        async () => {
          // Inside a transaction pg_stat_activity is a snapshot: clear it to see the waiting begin.
          await deleter.query('SELECT pg_stat_clear_snapshot()');
          const { rows } = await deleter.query('SELECT 1 FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))');
          return rows.length > 0;
        },
        10_000,
        50,
      );
      await deleter.query('DELETE FROM datasets WHERE id = $1', [id]);
      await deleter.query('COMMIT');
      const refused = await submission;
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'reference_deleted');
      assert.match(refused.body.detail, new RegExp(`${id} was deleted`));
      assert.equal(await stack.db.job.count({ where: { name: `on ${id}` } }), 0, 'no job was created');
    } finally {
      await deleter.end();
    }
  });

  test('a worker removes upload folders no row names once an hour old; younger ones and stored datasets stay', async () => {
    const root = stack.config.ARTIFACT_DIR;
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    const folder = async (key: string, age?: Date) => {
      await mkdir(join(root, key), { recursive: true });
      await writeFile(join(root, key, 'data.csv'), 'a,label\n1,x\n');
      if (age) await utimes(join(root, key), age, age);
    };
    const oldDataset = `datasets/${newId('ds')}`;
    const oldModel = `models/${newId('mdl')}`;
    const youngDataset = `datasets/${newId('ds')}`;
    await folder(oldDataset, twoHoursAgo);
    await folder(oldModel, twoHoursAgo);
    await folder(youngDataset);
    await utimes(join(root, 'datasets', ids.csv!), twoHoursAgo, twoHoursAgo);

    await stack.startWorker();
    const exists = (key: string) =>
      stat(join(root, key)).then(
        () => true,
        () => false,
      );
    assert.equal(await exists(oldDataset), false, 'an hour-old dataset folder without a row is removed');
    assert.equal(await exists(oldModel), false, 'an hour-old model folder without a row is removed');
    assert.equal(await exists(youngDataset), true, 'a younger one may be an upload still being checked');
    assert.equal(await exists(`datasets/${ids.csv}`), true, 'a stored dataset stays, however old');
    assert.equal((await request(stack.url, 'GET', `/v1/datasets/${ids.csv}`)).status, 200);
  });
});
