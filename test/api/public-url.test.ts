/**
 * PUBLIC_URL: the links the API hands out (artifact and model urls, Location headers) are absolute on
 * it, and what they name downloads, by hand and through the CLI.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { request, waitFor } from '../support/http.js';
import { freePort } from '../support/services.js';
import { QUICK_JOB } from '../support/specs.js';
import { type Stack, startStack } from '../support/stack.js';
import { tinyModel } from '../support/tiny-model.js';

/** A quick job on one worker of a busy machine: minutes at most. */
const JOB_DEADLINE_MS = 300_000;

describe('PUBLIC_URL', () => {
  let stack: Stack;
  let base: string;
  const auth = () => ({ authorization: `Bearer ${stack.keys.a.key}` });

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // A trailing slash, as people write it: links have no double slash.
    stack = await startStack({ workers: 1, env: { PORT: String(port), PUBLIC_URL: `${base}/` } });
  });
  after(async () => {
    await stack?.stop();
  });

  test("a job: its Location and its artifacts' urls are absolute, and download what the list says", async () => {
    const submitted = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const id = submitted.body.id as string;
    assert.equal(submitted.headers.get('location'), `${base}/v1/jobs/${id}`);
    await waitFor(
      `job ${id} to succeed`,
      async () => {
        const { body } = await request(stack.url, 'GET', `/v1/jobs/${id}`);
        if (body.status === 'failed' || body.status === 'cancelled') assert.fail(`job ${id} ${body.status}: ${JSON.stringify(body.error)}`);
        return body.status === 'succeeded';
      },
      JOB_DEADLINE_MS,
      500,
    );

    const artifacts = (await request(stack.url, 'GET', `/v1/jobs/${id}/artifacts`)).body.data as Array<{
      kind: string;
      file: string;
      url: string;
      sha256: string;
    }>;
    assert.ok(artifacts.length > 0);
    for (const a of artifacts) {
      assert.equal(a.url, `${base}/v1/jobs/${id}/artifacts/${a.kind}/${a.file}`);
      const response = await fetch(a.url, { headers: auth() });
      assert.equal(response.status, 200, a.url);
      assert.equal(
        createHash('sha256')
          .update(new Uint8Array(await response.arrayBuffer()))
          .digest('hex'),
        a.sha256,
        a.url,
      );
    }

    // The CLI follows the absolute links it is given.
    const out = await mkdtemp(join(tmpdir(), 'distill-public-url-'));
    try {
      const run = await runCli(['models', 'download', id, '--out', out], { DISTILL_URL: stack.url, DISTILL_API_KEY: stack.keys.a.key });
      assert.equal(run.code, 0, run.stderr);
      const student = artifacts.find((a) => a.kind === 'student' && a.file === 'weights.bin')!;
      assert.equal(
        createHash('sha256')
          .update(await readFile(join(out, 'weights.bin')))
          .digest('hex'),
        student.sha256,
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  test('an uploaded model: its Location and url are absolute, and the url is what tf.loadLayersModel reads', async () => {
    const { json, weights } = await tinyModel();
    const form = new FormData();
    form.append('name', 'public-url');
    form.append('model.json', new Blob([json]), 'model.json');
    form.append('weights.bin', new Blob([new Uint8Array(weights)]), 'weights.bin');
    const created = await fetch(`${stack.url}/v1/models`, { method: 'POST', body: form, headers: auth() });
    const model = await created.json();
    assert.equal(created.status, 201, JSON.stringify(model));
    assert.equal(created.headers.get('location'), `${base}/v1/models/${model.id}`);
    assert.equal(model.url, `${base}/v1/models/${model.id}/model.json`);
    assert.equal((await request(stack.url, 'GET', `/v1/models/${model.id}`)).body.url, model.url);
    const listed = (await request(stack.url, 'GET', '/v1/models')).body.data.find((m: { id: string }) => m.id === model.id);
    assert.equal(listed.url, model.url);
    const served = await fetch(model.url, { headers: auth() });
    assert.equal(served.status, 200);
    assert.ok('modelTopology' in (await served.json()));
  });
});
