// Hosts that share no disk (issue 15): the API and two workers run as separate hosts — each its own
// network namespace, uid and temporary directory where the machine allows it (test/support/hosts.ts),
// else separate processes with separate directories — sharing only Postgres, Redis and an S3 bucket
// (a throwaway Ceph radosgw). A job trains on one worker and its student downloads through the API; a
// worker SIGKILLed mid-job is resumed by the other from the checkpoint in the bucket; a dataset uploaded
// through the API is trained on by a worker. At the end, nothing the store holds is on any host's disk.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import * as tf from '@tensorflow/tfjs';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createDb, type Db } from '../../src/db/client.js';
import { generateSynthetic } from '../../src/ml/data/synthetic.js';
import { assertResumedAfter, flatEvents, midDistillation, smallJob, untilEvent, untilTerminal } from '../faults/harness.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';
import { createHostNetwork, type HostNetwork, type HostProcess } from '../support/hosts.js';
import { request, setDefaultKey } from '../support/http.js';
import { startS3Server, type S3Server } from '../support/s3-server.js';
import { QUICK_JOB } from '../support/specs.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A CSV of 16 numeric features and a string label column. */
function speciesCsv(samples: number): string {
  const names = ['heron', 'crane', 'stork', 'egret'];
  const ds = generateSynthetic({ samples, classes: 4, features: 16, seed: 3 });
  const header = [...Array.from({ length: 16 }, (_, j) => `f${j}`), 'species'].join(',');
  const rows = Array.from({ length: samples }, (_, i) =>
    [...Array.from(ds.train.x.subarray(i * 16, (i + 1) * 16), (v) => v.toFixed(4)), names[ds.train.y[i]!]].join(','),
  );
  return `${header}\n${rows.join('\n')}\n`;
}

/** Every file under `dir` (not following links), with its owner uid. */
async function filesUnder(dir: string): Promise<{ path: string; uid: number; size: number }[]> {
  const found: { path: string; uid: number; size: number }[] = [];
  const entries = await readdir(dir, { recursive: true });
  for (const entry of entries) {
    const path = join(dir, entry);
    const info = await lstat(path);
    found.push({ path, uid: info.uid, size: info.size });
  }
  return found;
}

describe('hosts that share no disk: API and two workers on the S3 store', () => {
  let s3: S3Server;
  let net: HostNetwork;
  let db: Db;
  let api: HostProcess;
  let workers: HostProcess[] = [];
  let url = '';
  let key = '';
  let client: S3Client;
  let bucket = '';
  /** sha256 of every object in the bucket, by key. */
  const bucketHashes = async (prefix = '') => {
    const hashes = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        // Listed, then removed before it is read (a checkpoint past its use, an upload's parts once joined): gone.
        const body = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! })).catch((err: Error) => {
          if (err.name === 'NoSuchKey') return undefined;
          throw err;
        });
        if (body) hashes.set(object.Key!, sha256(await body.Body!.transformToByteArray()));
      }
      token = page.NextContinuationToken;
    } while (token);
    return hashes;
  };
  const workerOf = (jobId: string) => workers.find((w) => w.logs.some((l) => l.jobId === jobId && l.msg === 'training child started'));

  before(async () => {
    s3 = await startS3Server();
    bucket = `shared-nothing-${randomBytes(3).toString('hex')}`;
    await s3.createBucket(bucket);
    client = s3.client();
    net = await createHostNetwork(['api', 'worker-a', 'worker-b']);
    console.log(
      net.mode === 'netns'
        ? `hosts: network namespaces (services at ${net.serviceAddress}), ${net.ownUids ? 'one uid and' : "root's uid (others cannot read the checkout),"} one directory per host`
        : `hosts: separate processes with separate directories (fallback: ${net.reason})`,
    );

    const databaseUrl = await freshDatabase();
    db = createDb(databaseUrl, 2);
    key = (await createApiKey(db, 'tenant-a')).key;
    const reach = async (u: string) => {
      const parsed = new URL(u);
      parsed.port = String(await net.forward(Number(parsed.port)));
      parsed.hostname = net.serviceAddress;
      return parsed.toString().replace(/\/$/, '');
    };
    const env: Record<string, string> = {
      DATABASE_URL: await reach(databaseUrl),
      REDIS_URL: await reach(REDIS_URL),
      QUEUE_NAME: `t${randomBytes(5).toString('hex')}`,
      ARTIFACT_STORE: 's3',
      S3_ENDPOINT: await reach(s3.endpoint),
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      TRAINING_BACKEND: 'wasm',
      RECONCILE_INTERVAL_SECONDS: '1',
      JOB_ATTEMPTS: '3',
      SHUTDOWN_GRACE_SECONDS: '5',
      // The API shares two cores with two training workers (and, in CI, with whatever runs beside): its
      // event-loop lag is theirs, and shedding would answer the test's own requests 503 `overloaded`.
      // Shedding has its own test (test/api/auth-limits.test.ts).
      MAX_EVENT_LOOP_DELAY_MS: '0',
    };
    const apiHost = net.start('api', ['serve'], { ...env, PORT: '0', HOST: net.mode === 'netns' ? '0.0.0.0' : '127.0.0.1' });
    const workerHosts = ['worker-a', 'worker-b'].map((name) => net.start(name, ['worker'], env));
    api = await apiHost;
    workers = await Promise.all(workerHosts);
    const listening = await api.waitForLog((l) => l.msg === 'API listening', 90_000);
    const port = new URL(String(listening.url)).port;
    url = `http://${api.address}:${port}`;
    setDefaultKey(url, key);
    await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'worker ready', 90_000)));
    if (net.ownUids) assert.equal(new Set(net.hosts.map((h) => h.uid)).size, net.hosts.length, 'each host runs as a uid of its own');
    if (net.mode === 'netns') {
      const namespaces = await Promise.all([process.pid, ...net.hosts.map((h) => h.pid)].map((pid) => readlink(`/proc/${pid}/ns/net`)));
      assert.equal(new Set(namespaces).size, namespaces.length, `each host has a network of its own: ${namespaces.join(' ')}`);
    }
  });

  after(async () => {
    await net?.stop();
    await net?.removeDirs();
    client?.destroy();
    await db?.$disconnect();
    await s3?.stop();
  });

  test('a job trains on one worker; its student downloads through the API as the worker stored it, and tfjs loads it', async () => {
    const created = await request(url, 'POST', '/v1/jobs', QUICK_JOB);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const done = await untilTerminal(url, id, 120_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.ok(workerOf(id), 'one of the worker hosts trained it');

    const stored = await bucketHashes(`jobs/${id}/`);
    for (const file of ['model.json', 'weights.bin']) {
      const storedKey = [...stored.keys()].find((k) => k.endsWith(`/student/${file}`));
      assert.ok(storedKey, `the bucket holds the student's ${file} (keys: ${[...stored.keys()].join(', ')})`);
      const download = await fetch(`${url}/v1/jobs/${id}/artifacts/student/${file}`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(download.status, 200);
      assert.equal(sha256(new Uint8Array(await download.arrayBuffer())), stored.get(storedKey), `${file} through the API is what the worker stored`);
    }

    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(`${url}/v1/jobs/${id}/artifacts/student/model.json`, {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    });
    const inputs = tf.randomNormal([4, 16]);
    const predictions = model.predict(inputs) as tf.Tensor;
    assert.deepEqual(predictions.shape, [4, 4]);
    tf.dispose([inputs, predictions]);
    model.dispose();
  });

  test('a worker SIGKILLed mid-job after a checkpoint: the other worker resumes from the checkpoint in the bucket and the job succeeds', async () => {
    const created = await request(url, 'POST', '/v1/jobs', smallJob('killed', 8));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const checkpoint = await untilEvent(db, id, (e) => e.type === 'checkpoint' && e.data.phase === 'distilling', 'a distillation checkpoint', 120_000);
    await untilEvent(db, id, midDistillation(Number(checkpoint.data.epoch)), 'a batch after the checkpoint', 120_000);
    const victim = workerOf(id);
    assert.ok(victim, 'a worker host runs it');
    const survivor = workers.find((w) => w !== victim)!;
    const checkpointsInBucket = [...(await bucketHashes(`jobs/${id}/`)).keys()].filter((k) => /checkpoint/.test(k));
    assert.ok(checkpointsInBucket.length > 0, 'the checkpoint is in the bucket');

    victim.child.kill('SIGKILL');
    await victim.exited;
    await untilEvent(db, id, (e) => e.type === 'status' && e.data.status === 'running' && e.data.attempt === 2, 'attempt 2 on the other worker', 120_000);
    const done = await untilTerminal(url, id, 120_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    assert.ok(
      survivor.logs.some((l) => l.jobId === id && l.msg === 'training child started'),
      `${survivor.name} took the job over`,
    );
    assertResumedAfter(await flatEvents(db, id), 2, Number(checkpoint.data.epoch));
  });

  test('a dataset uploaded through the API is trained on by a worker', async () => {
    const form = new FormData();
    form.append('label_column', 'species');
    form.append('csv', new Blob([speciesCsv(300)]), 'birds.csv');
    const response = await fetch(`${url}/v1/datasets`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
    const upload = (await response.json()) as { id: string };
    assert.equal(response.status, 201, JSON.stringify(upload));
    const created = await request(url, 'POST', '/v1/jobs', {
      name: 'on the upload',
      dataset: { source: upload.id, validation_fraction: 0.1 },
      teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 2, learning_rate: 0.01 } },
      student: { model: { preset: 'linear' }, training: { epochs: 2, learning_rate: 0.01 } },
      seed: 5,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await untilTerminal(url, created.body.id, 120_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.ok(workerOf(created.body.id), 'a worker host trained it');
  });

  test("no host wrote into another's directory, and no host's directory holds anything the bucket holds", async () => {
    const objects = await bucketHashes();
    assert.ok(
      [...objects.keys()].some((k) => k.includes('/student/')),
      'the bucket holds the results',
    );
    const stored = new Set(objects.values());
    if (net.mode !== 'netns') console.log('separate processes share a uid: who wrote each file is not checked in this mode, only what the directories hold');
    for (const host of [api, ...workers]) {
      const files = await filesUnder(host.dir);
      console.log(
        `${host.name} (uid ${host.uid ?? 'shared'}): ${files.length} entries in its directory: ${[...new Set(files.map((f) => f.path.slice(host.dir.length + 1).split('/')[0]))].join(', ')}`,
      );
      if (host.uid !== undefined) {
        const foreign = files.filter((f) => f.uid !== host.uid);
        assert.deepEqual(
          foreign.map((f) => f.path),
          [],
          `everything under ${host.name}'s directory was written by ${host.name}`,
        );
      }
      const local = files.filter((f) => /(^|\/)(\.data|jobs|uploads|checkpoints?)(\/|$)|(^|\/)(model\.json|weights\.bin)$/.test(f.path.slice(host.dir.length)));
      assert.deepEqual(
        local.map((f) => f.path),
        [],
        `${host.name} keeps no artifact, upload or checkpoint on its disk`,
      );
      for (const file of files) {
        if (!(await lstat(file.path)).isFile() || file.size === 0) continue;
        const hash = sha256(await readFile(file.path));
        assert.ok(!stored.has(hash), `${file.path} is a copy of an object in the bucket`);
      }
    }
  });
});
