/**
 * The API process never loads TensorFlow.js (issue 14): `distill serve` answers a job submission (its spec
 * checked and its memory estimated), a dataset upload and a model upload, and what it loaded holds no
 * @tensorflow module, while the child that checked the model did load tfjs (so the probe sees it when it
 * is there). The static side of the same rule is .dependency-cruiser.runtime.cjs (boundaries.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createDb } from '../../src/db/client.js';
import { spawnCli } from '../support/cli.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';
import { QUICK_JOB } from '../support/specs.js';
import { tinyModel } from '../support/tiny-model.js';

const PRELOAD = fileURLToPath(new URL('../support/loaded-modules.cjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'distill-no-tfjs-'));
const loadedDir = mkdtempSync(join(tmpdir(), 'distill-loaded-'));
const queue = `notfjs${process.pid}`;
after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(loadedDir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`*${queue}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

interface Loaded {
  argv: string[];
  tensorflow: string[];
}

describe('the API process', () => {
  it('answers submissions and uploads without loading TensorFlow.js; the model check child loads it', async () => {
    const databaseUrl = await freshDatabase();
    const db = createDb(databaseUrl, 1);
    const { key } = await createApiKey(db, 'no-tfjs');
    await db.$disconnect();
    const api = spawnCli(['serve'], {
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      QUEUE_NAME: queue,
      ARTIFACT_DIR: scratch,
      HOST: '127.0.0.1',
      PORT: '0',
      MAX_EVENT_LOOP_DELAY_MS: '0',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${PRELOAD}`.trim(),
      LOADED_MODULES_DIR: loadedDir,
    });
    const url = String((await api.waitForLog((l) => l.msg === 'API listening')).url);
    const headers = { authorization: `Bearer ${key}` };

    const job = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(QUICK_JOB) });
    assert.equal(job.status, 201, await job.text());
    const invalid = await fetch(`${url}/v1/jobs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ ...QUICK_JOB, student: { model: { preset: 'nope' } } }),
    });
    assert.equal(invalid.status, 400, await invalid.text());

    const datasetForm = new FormData();
    datasetForm.append('csv', new Blob([readFileSync(fileURLToPath(new URL('../../examples/digits-7x7.csv', import.meta.url)))]), 'digits.csv');
    const dataset = await fetch(`${url}/v1/datasets`, { method: 'POST', headers, body: datasetForm });
    assert.equal(dataset.status, 201, await dataset.text());

    const model = await tinyModel();
    const modelForm = new FormData();
    modelForm.append('model.json', new Blob([model.json]), 'model.json');
    modelForm.append('weights.bin', new Blob([new Uint8Array(model.weights)]), 'weights.bin');
    const uploaded = await fetch(`${url}/v1/models`, { method: 'POST', headers, body: modelForm });
    assert.equal(uploaded.status, 201, await uploaded.text());

    api.kill('SIGTERM');
    assert.deepEqual(await api.exited, { code: 0, signal: null }, api.output());
    const byPid = new Map(readdirSync(loadedDir).map((f) => [Number(f.replace('.json', '')), JSON.parse(readFileSync(join(loadedDir, f), 'utf8')) as Loaded]));
    const apiLoaded = byPid.get(api.pid);
    assert.ok(apiLoaded, `the API process (pid ${api.pid}) wrote no list of loaded modules; lists: ${[...byPid.keys()]}`);
    assert.deepEqual(apiLoaded.tensorflow, [], 'the API process loaded TensorFlow.js');
    const checks = [...byPid.values()].filter((l) => l.argv.some((a) => a.includes('upload-check-child')));
    assert.ok(
      checks.some((l) => l.tensorflow.length > 0),
      `no upload check child loaded tfjs: ${JSON.stringify(checks)}`,
    );
  });
});
