/**
 * The product on the S3 store (issue 15), against a real RADOS Gateway: an upload is stored in the
 * bucket, checked by a child process that reads it back from the bucket, and trained on by a worker;
 * the student downloads through the API (auth kept, streamed from the bucket) and loads in tfjs; nothing
 * lands in ARTIFACT_DIR; a refused upload leaves no row and no object; the orphan sweep covers the bucket.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs';
import { newId } from '../../src/ids.js';
import { generateSynthetic } from '../../src/ml/data/synthetic.js';
import { sweepOrphanedUploads } from '../../src/resources/orphaned-uploads.js';
import { openConfiguredStore } from '../../src/storage/artifact-store.js';
import { request, waitFor } from '../support/http.js';
import { type S3Server, startS3Server } from '../support/s3-server.js';
import { startStack, type Stack } from '../support/stack.js';

const BUCKET = 'api-suite';
const PREFIX = 'install-1/';
const JOB_DEADLINE_MS = 240_000;

function speciesCsv(samples = 300): string {
  const names = ['heron', 'crane', 'stork', 'egret'];
  const ds = generateSynthetic({ samples, classes: 4, features: 16, seed: 3 });
  const header = [...Array.from({ length: 16 }, (_, j) => `f${j}`), 'species'].join(',');
  const rows = Array.from({ length: samples }, (_, i) =>
    [...Array.from(ds.train.x.subarray(i * 16, (i + 1) * 16), (v) => v.toFixed(4)), names[ds.train.y[i]!]].join(','),
  );
  return `${header}\n${rows.join('\n')}\n`;
}

async function postCsv(stack: Stack, csv: string, fields: Record<string, string>) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('csv', new Blob([csv]), 'birds.csv');
  const response = await fetch(`${stack.url}/v1/datasets`, { method: 'POST', body: form, headers: { authorization: `Bearer ${stack.keys.a.key}` } });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function keysUnder(client: S3Client, prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX + prefix }));
  return (res.Contents ?? []).map((o) => o.Key!.slice(PREFIX.length)).sort();
}

describe('ARTIFACT_STORE=s3: uploads, training, downloads and sweeps go through the bucket', () => {
  let s3: S3Server;
  let stack: Stack;
  let client: S3Client;
  let datasetId: string;

  before(async () => {
    s3 = await startS3Server();
    await s3.createBucket(BUCKET);
    client = s3.client();
    stack = await startStack({ workers: 1, env: { ...s3.env(BUCKET, PREFIX) } });
  });
  after(async () => {
    client?.destroy();
    await stack?.stop();
    await s3?.stop();
  });

  test('a CSV upload is stored in the bucket and checked from it', async () => {
    const response = await postCsv(stack, speciesCsv(), { label_column: 'species', name: 'birds' });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    assert.equal(response.body.status, 'ready');
    assert.equal(response.body.num_train, 300);
    assert.deepEqual(response.body.class_names, ['crane', 'egret', 'heron', 'stork']);
    datasetId = response.body.id;
    const keys = await keysUnder(client, `datasets/${datasetId}/`);
    assert.ok(keys.includes(`datasets/${datasetId}/manifest.json`), keys.join(', '));
    assert.ok(keys.length >= 2, keys.join(', '));
  });

  test('a refused upload leaves no row and no object in the bucket', async () => {
    const before = await keysUnder(client, 'datasets/');
    const response = await postCsv(stack, 'f0,f1,species\n1,2,a\n', { label_column: 'no_such_column' });
    assert.ok(response.status >= 400 && response.status < 500, JSON.stringify(response.body));
    assert.deepEqual(await keysUnder(client, 'datasets/'), before);
    assert.deepEqual(
      (await stack.db.dataset.findMany({ select: { id: true } })).map((r) => r.id),
      [datasetId],
    );
  });

  test('a job trains on the uploaded dataset; its student downloads through the API and loads in tfjs', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', {
      name: 'birds on s3',
      dataset: { source: datasetId, validation_fraction: 0.1 },
      teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 2, learning_rate: 0.01 } },
      student: { model: { preset: 'linear' }, training: { epochs: 2, learning_rate: 0.01 } },
      seed: 5,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await waitFor(
      'the job on the uploaded dataset to end',
      async () => {
        const body = (await request(stack.url, 'GET', `/v1/jobs/${created.body.id}`)).body;
        return ['succeeded', 'failed', 'cancelled'].includes(body.status) && body;
      },
      JOB_DEADLINE_MS,
    );
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));

    // The files are objects in the bucket, under the configured prefix.
    const keys = await keysUnder(client, `jobs/${job.id}/`);
    assert.ok(
      keys.some((k) => k.endsWith('/student/weights.bin')),
      keys.join(', '),
    );

    // A download is the object's bytes, streamed through the API, behind its auth.
    const listed = (await request(stack.url, 'GET', `/v1/jobs/${job.id}/artifacts`)).body.data as Array<{
      kind: string;
      file: string;
      sha256: string;
      bytes: number;
      url: string;
    }>;
    const weights = listed.find((a) => a.kind === 'student' && a.file === 'weights.bin')!;
    const download = await fetch(`${stack.url}${weights.url}`, { headers: { authorization: `Bearer ${stack.keys.a.key}` } });
    assert.equal(download.status, 200);
    const bytes = Buffer.from(await download.arrayBuffer());
    assert.equal(bytes.byteLength, weights.bytes);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), weights.sha256);
    assert.equal((await fetch(`${stack.url}${weights.url}`)).status, 401, 'no key, no download');
    assert.equal(
      (await fetch(`${stack.url}${weights.url}`, { headers: { authorization: `Bearer ${stack.keys.b.key}` } })).status,
      404,
      "another tenant's job is not found",
    );

    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(`${stack.url}/v1/jobs/${job.id}/artifacts/student/model.json`, {
      requestInit: { headers: { authorization: `Bearer ${stack.keys.a.key}` } },
    });
    const inputs = tf.randomNormal([5, 16]);
    const predictions = model.predict(inputs) as tf.Tensor;
    assert.deepEqual(predictions.shape, [5, 4]);
    tf.dispose([inputs, predictions]);

    // A row whose object is gone from the bucket answers 404, not a 200 cut short.
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}jobs/${job.id}/attempts/1/teacher/weights.bin` }));
    const gone = await request(stack.url, 'GET', `/v1/jobs/${job.id}/artifacts/teacher/weights.bin`);
    assert.equal(gone.status, 404, JSON.stringify(gone.body));
    assert.equal(gone.body.code, 'not_found');

    // Nothing of it went to the local artifact directory.
    assert.deepEqual(await readdir(stack.config.ARTIFACT_DIR).catch(() => []), []);
  });

  test('the orphan sweep removes upload prefixes in the bucket that no row names, and keeps the rest', async () => {
    const store = openConfiguredStore(stack.config);
    const orphan = newId('ds');
    await store.put(`datasets/${orphan}/manifest.json`, Buffer.from('{}'));
    await store.put(`datasets/${orphan}/train.csv`, Buffer.from('1,2'));
    // A fresh orphan may be an upload still being checked: kept within the grace period.
    assert.deepEqual(await sweepOrphanedUploads(stack.db, store), []);
    const removed = await sweepOrphanedUploads(stack.db, store, 0, Date.now() + 1000);
    assert.deepEqual(removed, [`datasets/${orphan}`]);
    assert.deepEqual(await keysUnder(client, `datasets/${orphan}/`), []);
    assert.ok((await keysUnder(client, `datasets/${datasetId}/`)).length >= 2, 'the dataset a row names stays');
  });
});
