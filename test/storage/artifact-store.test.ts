/**
 * The artifact store's contract (issue 15), the same cases against both homes: the local directory and
 * an S3 bucket on a real RADOS Gateway this file starts (test/support/s3-server.ts). A store opened from
 * another's `location` (what child processes do) sees the same objects.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { type ArtifactStore, InvalidKeyError, ObjectNotFoundError, openArtifactStore, openConfiguredStore } from '../../src/storage/artifact-store.js';
import { type S3Server, startS3Server } from '../support/s3-server.js';

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
/** `total` bytes in 1 MiB chunks made on demand, so the test itself holds no large buffer. */
function generated(total: number, seed: number): { stream: Readable; sha256: string } {
  const hash = createHash('sha256');
  const chunk = (i: number) => Buffer.alloc(Math.min(2 ** 20, total - i * 2 ** 20), (seed + i) % 251);
  for (let i = 0; i * 2 ** 20 < total; i++) hash.update(chunk(i));
  let i = 0;
  const stream = new Readable({
    read() {
      if (i * 2 ** 20 >= total) this.push(null);
      else this.push(chunk(i++));
    },
  });
  return { stream, sha256: hash.digest('hex') };
}

let s3: S3Server;
let dir: string;
const stores: Record<'fs' | 's3', () => ArtifactStore> = {} as never;

before(async () => {
  s3 = await startS3Server();
  await s3.createBucket('store-suite');
  dir = await mkdtemp(join(tmpdir(), 'store-suite-'));
  stores.fs = () => openConfiguredStore(loadConfig({ ARTIFACT_DIR: dir }));
  stores.s3 = () => openConfiguredStore(loadConfig(s3.env('store-suite', 'suite/')));
});
after(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('ARTIFACT_STORE=s3 without S3_BUCKET is a configuration error naming it; bad values name their variable', () => {
  assert.throws(() => loadConfig({ ARTIFACT_STORE: 's3' }), /S3_BUCKET is required when ARTIFACT_STORE=s3/);
  assert.throws(() => loadConfig({ ARTIFACT_STORE: 'nfs' }), /ARTIFACT_STORE="nfs" is invalid: expected one of fs, s3/);
  assert.throws(() => loadConfig({ ARTIFACT_STORE: 's3', S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'maybe' }), /S3_FORCE_PATH_STYLE/);
  assert.throws(() => loadConfig({ ARTIFACT_STORE: 's3', S3_BUCKET: 'b', S3_PREFIX: '../x' }), /S3_PREFIX/);
  assert.equal(loadConfig({}).ARTIFACT_STORE, 'fs', 'the directory stays the default');
});

for (const kind of ['fs', 's3'] as const) {
  describe(`the ${kind} artifact store`, () => {
    const store = () => stores[kind]();
    let n = 0;
    /** A fresh prefix per case, so the cases share nothing. */
    const prefix = () => `jobs/job_${kind}${++n}`;

    test('put then get, size and stream give the same bytes; put reports bytes and sha256', async () => {
      const p = prefix();
      const data = randomBytes(100_000);
      const stored = await store().put(`${p}/a/weights.bin`, data);
      assert.deepEqual(stored, { key: `${p}/a/weights.bin`, bytes: data.byteLength, sha256: sha(data) });
      assert.deepEqual(await store().get(`${p}/a/weights.bin`), data);
      assert.equal(await store().size(`${p}/a/weights.bin`), data.byteLength);
      assert.deepEqual(await drain(store().stream(`${p}/a/weights.bin`)), data);
      assert.deepEqual(await drain(await store().open(`${p}/a/weights.bin`)), data);
    });

    test('an empty object is an object', async () => {
      const p = prefix();
      await store().put(`${p}/empty.json`, new Uint8Array());
      assert.equal(await store().size(`${p}/empty.json`), 0);
      assert.equal((await store().get(`${p}/empty.json`)).byteLength, 0);
    });

    test('another process opening the same location sees the same objects', async () => {
      const p = prefix();
      await store().put(`${p}/x.bin`, Buffer.from('shared'));
      const other = openArtifactStore(store().location);
      assert.equal((await other.get(`${p}/x.bin`)).toString(), 'shared');
    });

    test('an overwrite replaces the object whole', async () => {
      const p = prefix();
      await store().put(`${p}/model.json`, Buffer.from('a much longer first version'));
      await store().put(`${p}/model.json`, Buffer.from('second'));
      assert.equal((await store().get(`${p}/model.json`)).toString(), 'second');
      assert.equal(await store().size(`${p}/model.json`), 6);
    });

    test('a missing object: get rejects and stream errors with ObjectNotFoundError, size is undefined', async () => {
      const p = prefix();
      await assert.rejects(store().get(`${p}/nope.bin`), ObjectNotFoundError);
      await assert.rejects(drain(store().stream(`${p}/nope.bin`)), ObjectNotFoundError);
      await assert.rejects(store().open(`${p}/nope.bin`), ObjectNotFoundError);
      assert.equal(await store().size(`${p}/nope.bin`), undefined);
    });

    test('keys that are not ours are refused before any I/O', async () => {
      for (const bad of ['../etc/passwd', 'jobs/../x', 'jobs//x', '/jobs/x', 'Jobs/x', 'jobs/a b', 'jobs/x/.', '']) {
        await assert.rejects(store().put(bad, Buffer.from('x')), InvalidKeyError, bad);
        await assert.rejects(store().get(bad), InvalidKeyError, bad);
      }
    });

    test('children lists the entries directly under a prefix with their modification times', async () => {
      const p = prefix();
      const before = Date.now() - 60_000;
      await store().put(`${p}/ds_1/manifest.json`, Buffer.from('{}'));
      await store().put(`${p}/ds_1/train.csv`, Buffer.from('1,2'));
      await store().put(`${p}/ds_2/deep/er/file.bin`, Buffer.from('x'));
      await store().put(`${p}/loose.bin`, Buffer.from('x'));
      const children = await store().children(p);
      assert.deepEqual(children.map((c) => c.name).sort(), ['ds_1', 'ds_2', 'loose.bin']);
      for (const c of children)
        assert.ok(c.modifiedAt.getTime() > before && c.modifiedAt.getTime() < Date.now() + 60_000, `${c.name}: ${c.modifiedAt.toISOString()}`);
      assert.deepEqual(await store().children(`${p}/none`), []);
    });

    test('remove takes a key, or a prefix and everything under it, and nothing beside it', async () => {
      const p = prefix();
      await store().put(`${p}/keep/a.bin`, Buffer.from('a'));
      await store().put(`${p}/gone/a.bin`, Buffer.from('a'));
      await store().put(`${p}/gone/deep/b.bin`, Buffer.from('b'));
      await store().put(`${p}/gone2/c.bin`, Buffer.from('c'));
      await store().remove(`${p}/gone`);
      assert.equal(await store().size(`${p}/gone/a.bin`), undefined);
      assert.equal(await store().size(`${p}/gone/deep/b.bin`), undefined);
      // A prefix is a whole path segment: removing `gone` leaves `gone2`.
      assert.equal(await store().size(`${p}/gone2/c.bin`), 1);
      assert.equal(await store().size(`${p}/keep/a.bin`), 1);
      await store().remove(`${p}/keep/a.bin`);
      assert.equal(await store().size(`${p}/keep/a.bin`), undefined);
      await store().remove(`${p}/never-was`);
      assert.equal(await store().size(`${p}/gone2/c.bin`), 1);
    });

    test('a large object (40 MiB, several multipart parts) streams in and out intact', async () => {
      const p = prefix();
      const total = 40 * 2 ** 20 + 12345;
      const { stream, sha256 } = generated(total, 7);
      const stored = await store().putStream(`${p}/big.bin`, stream);
      assert.deepEqual(stored, { key: `${p}/big.bin`, bytes: total, sha256 });
      assert.equal(await store().size(`${p}/big.bin`), total);
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of store().stream(`${p}/big.bin`)) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).byteLength;
      }
      assert.equal(bytes, total);
      assert.equal(hash.digest('hex'), sha256);
    });

    test('a write whose source fails leaves nothing under its key (nor a temporary file)', async () => {
      const p = prefix();
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent++ < 3) this.push(Buffer.alloc(4 * 2 ** 20, 1));
          else this.destroy(new Error('the client went away'));
        },
      });
      await assert.rejects(store().putStream(`${p}/half.bin`, failing), /went away/);
      assert.equal(await store().size(`${p}/half.bin`), undefined);
      assert.deepEqual(await store().children(p), []);
      if (kind === 'fs') assert.deepEqual(await readdir(join(dir, ...p.split('/'))).catch(() => []), []);
    });
  });
}

test("S3: writes to a bucket that does not exist reject with the store's error (a caller then writes no row)", async () => {
  const store = openConfiguredStore(loadConfig(s3.env('no-such-bucket')));
  await assert.rejects(store.put('jobs/job_x/model.json', Buffer.from('{}')), /NoSuchBucket|does not exist/);
  await assert.rejects(store.putStream('jobs/job_x/weights.bin', generated(20 * 2 ** 20, 1).stream), /NoSuchBucket|does not exist/);
  await assert.rejects(store.children('jobs'), /NoSuchBucket|does not exist/);
});
