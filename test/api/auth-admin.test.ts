/**
 * What an admin key may do (issue 13, item 6): read and list every tenant's jobs, datasets and models, but
 * create, cancel and delete only in its own tenant. A cancel or delete of another tenant's resource answers
 * 403 admin_read_only and changes nothing; an id that exists nowhere still answers 404.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/ids.js';
import { request, type Response } from '../support/http.js';
import { Contract } from '../support/openapi.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { tinyModel } from '../support/tiny-model.js';

const contract = new Contract();
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function datasetForm(name: string): FormData {
  const rows = Array.from({ length: 20 }, (_, i) => `${i % 2 ? 1 : -1},${(i % 5) / 10},${i % 2 ? 'yes' : 'no'}`);
  const form = new FormData();
  form.append('name', name);
  form.append('label_column', 'label');
  form.append('csv', new Blob([`f0,f1,label\n${rows.join('\n')}\n`]), 'data.csv');
  return form;
}

async function modelForm(): Promise<FormData> {
  const { json, weights } = await tinyModel();
  const form = new FormData();
  form.append('model.json', new Blob([json]), 'model.json');
  form.append('weights', new Blob([new Uint8Array(weights)]), 'weights.bin');
  return form;
}

async function postForm(base: string, path: string, form: FormData, key: string): Promise<Response> {
  const response = await fetch(`${base}${path}`, { method: 'POST', body: form, headers: bearer(key) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

describe('admin keys read every tenant but write only in their own', () => {
  let stack: Stack;
  /** Tenant b's resources, and the admin tenant's own. */
  const b = { job: '', dataset: '', model: '' };
  const own = { job: '', dataset: '', model: '' };

  const create = async (key: string) => {
    const job = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, bearer(key));
    assert.equal(job.status, 201, JSON.stringify(job.body));
    const dataset = await postForm(stack.url, '/v1/datasets', datasetForm('owned'), key);
    assert.equal(dataset.status, 201, JSON.stringify(dataset.body));
    const model = await postForm(stack.url, '/v1/models', await modelForm(), key);
    assert.equal(model.status, 201, JSON.stringify(model.body));
    return { job: job.body.id as string, dataset: dataset.body.id as string, model: model.body.id as string };
  };

  before(async () => {
    stack = await startStack({ workers: 0 });
    Object.assign(b, await create(stack.keys.b.key));
    Object.assign(own, await create(stack.keys.admin.key));
  });
  after(() => stack?.stop());

  const writes = (ids: typeof b) =>
    [
      ['POST', `/v1/jobs/${ids.job}/cancel`],
      ['DELETE', `/v1/datasets/${ids.dataset}`],
      ['DELETE', `/v1/models/${ids.model}`],
    ] as const;

  const snapshot = async () => ({
    job: await stack.db.job.findUnique({ where: { id: b.job }, select: { status: true, finishedAt: true } }),
    dataset: await stack.db.dataset.count({ where: { id: b.dataset } }),
    model: await stack.db.model.count({ where: { id: b.model } }),
  });

  test("reads: the admin key reads and lists tenant b's job, dataset and model", async () => {
    for (const path of [
      `/v1/jobs/${b.job}`,
      `/v1/datasets/${b.dataset}`,
      `/v1/models/${b.model}`,
      `/v1/jobs/${b.job}/events`,
      `/v1/models/${b.model}/model.json`,
    ]) {
      const answer = await request(stack.url, 'GET', path, undefined, bearer(stack.keys.admin.key));
      assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body).slice(0, 200)}`);
    }
    for (const [path, id] of [
      ['/v1/jobs', b.job],
      ['/v1/datasets', b.dataset],
      ['/v1/models', b.model],
    ] as const) {
      const listed = await request(stack.url, 'GET', `${path}?limit=100`, undefined, bearer(stack.keys.admin.key));
      assert.ok(
        listed.body.data.some((r: { id: string }) => r.id === id),
        `the admin key lists b's ${id}`,
      );
    }
  });

  test('writes in another tenant: 403 admin_read_only, nothing changes (as openapi.yaml documents)', async () => {
    const before_ = await snapshot();
    assert.equal(before_.job?.status, 'queued');
    for (const [method, path] of writes(b)) {
      const answer = await request(stack.url, method, path, undefined, bearer(stack.keys.admin.key));
      assert.equal(answer.status, 403, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.code, 'admin_read_only');
      assert.match(answer.body.detail, /belongs to another tenant: admin keys read every tenant's resources but cancel, delete and create only in their own/);
      contract.checkResponse(method, path, answer);
    }
    assert.deepEqual(await snapshot(), before_, "b's job is still queued, its dataset and model still there");
    // An id that exists in no tenant is still 404, for the admin key as for any.
    for (const [method, path] of writes({ job: newId('job'), dataset: newId('ds'), model: newId('mdl') })) {
      const answer = await request(stack.url, method, path, undefined, bearer(stack.keys.admin.key));
      assert.equal(answer.status, 404, `${method} ${path}`);
      assert.equal(answer.body.code, 'not_found');
    }
    // Another (non-admin) tenant's key still sees b's resources as missing: no 403 that would reveal them.
    for (const [method, path] of writes(b)) {
      const answer = await request(stack.url, method, path, undefined, bearer(stack.keys.a.key));
      assert.equal(answer.status, 404, `tenant a: ${method} ${path}`);
    }
  });

  test("writes in its own tenant succeed; b's own key still cancels and deletes b's", async () => {
    for (const ids of [own, b]) {
      const key = ids === own ? stack.keys.admin.key : stack.keys.b.key;
      for (const [method, path] of writes(ids)) {
        const answer = await request(stack.url, method, path, undefined, bearer(key));
        assert.equal(answer.status, 200, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      }
      assert.equal((await stack.db.job.findUniqueOrThrow({ where: { id: ids.job } })).status, 'cancelled');
      assert.equal(await stack.db.dataset.count({ where: { id: ids.dataset } }), 0);
      assert.equal(await stack.db.model.count({ where: { id: ids.model } }), 0);
    }
  });
});
