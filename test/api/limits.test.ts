/**
 * Abuse limits (issue 6): a per-tenant rate limit kept in Redis (429 rate_limited with Retry-After, shared
 * by every API process, other tenants unaffected); per-tenant quotas on active jobs and stored bytes (429
 * with their codes); body limits (413), bounded list sizes, a small WebSocket frame limit, and the
 * server's limits on job size (400 naming the field).
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import WebSocket from 'ws';
import { startServer } from '../../src/api/server.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { tenantUsage } from '../../src/jobs/tenant-usage.js';
import { request, waitFor, type Response } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { refusedUpgrade } from '../support/ws.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function assertProblem(answer: Response, status: number, code: string, where = ''): void {
  assert.equal(answer.status, status, `${where} ${JSON.stringify(answer.body).slice(0, 400)}`);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/, where);
  assert.equal(answer.body.code, code, where);
  assert.equal(answer.body.status, status, where);
}

/** A 429's Retry-After: whole seconds, the same in the header and the body. */
function assertRetryAfter(answer: Response, max: number): number {
  const header = answer.headers.get('retry-after');
  assert.ok(header, 'Retry-After is set');
  assert.match(header, /^\d+$/, 'Retry-After is delay-seconds');
  const seconds = Number(header);
  assert.ok(seconds >= 1 && seconds <= max, `Retry-After ${seconds} within 1..${max}`);
  assert.equal(answer.body.retry_after, seconds, 'the body says the same');
  return seconds;
}

describe('rate limit: per tenant, in Redis', () => {
  const LIMIT = 5;
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 0, env: { RATE_LIMIT_PER_MINUTE: String(LIMIT) } });
  });
  after(() => stack?.stop());

  test(`the ${LIMIT + 1}th request of a minute (refused ones count) answers 429 rate_limited with Retry-After; the tenant's other keys share the budget; other tenants are unaffected`, async () => {
    // A refused request spends the budget too: a flood of bad requests is still a flood.
    const invalid = await request(stack.url, 'GET', '/v1/jobs?limit=0');
    assertProblem(invalid, 400, 'invalid_request');
    assert.equal(invalid.headers.get('x-ratelimit-remaining'), String(LIMIT - 1), 'the 400 was counted');
    for (let i = 2; i <= LIMIT; i++) {
      const ok = await request(stack.url, 'GET', '/v1/jobs');
      assert.equal(ok.status, 200, `request ${i}`);
      assert.equal(ok.headers.get('x-ratelimit-limit'), String(LIMIT));
      assert.equal(ok.headers.get('x-ratelimit-remaining'), String(LIMIT - i));
    }
    const limited = await request(stack.url, 'GET', '/v1/jobs');
    assertProblem(limited, 429, 'rate_limited');
    assertRetryAfter(limited, 60);
    assert.equal(limited.body.instance, '/v1/jobs');

    // Every route, sockets included, and a create that must not happen.
    const jobs = await stack.db.job.count();
    assertProblem(await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB), 429, 'rate_limited', 'POST /v1/jobs');
    assertProblem(await request(stack.url, 'POST', '/v1/ws-tickets'), 429, 'rate_limited', 'POST /v1/ws-tickets');
    assertProblem(await request(stack.url, 'GET', '/v1/jobs/job_00000000000000000000000000'), 429, 'rate_limited', 'GET /v1/jobs/{id}');
    assert.equal(await stack.db.job.count(), jobs, 'a limited create creates nothing');
    const refused = await refusedUpgrade(`${stack.wsUrl}/v1/events`, bearer(stack.keys.a.key));
    assert.equal(refused.status, 429, 'the socket is refused before the upgrade');

    // The budget is the tenant's, not the key's.
    const second = await createApiKey(stack.db, 'tenant-a');
    assertProblem(await request(stack.url, 'GET', '/v1/jobs', undefined, bearer(second.key)), 429, 'rate_limited', 'another key of tenant a');
    // Authentication still comes first: no key is 401, not 429.
    assert.equal((await request(stack.url, 'GET', '/v1/jobs', undefined, { authorization: '' })).status, 401);

    // Tenant b and the admin tenant have their own budgets.
    for (const key of [stack.keys.b.key, stack.keys.admin.key]) {
      const other = await request(stack.url, 'GET', '/v1/jobs', undefined, bearer(key));
      assert.equal(other.status, 200);
      assert.equal(other.headers.get('x-ratelimit-remaining'), String(LIMIT - 1));
    }
    // Health probes are not limited.
    assert.equal((await request(stack.url, 'GET', '/healthz')).status, 200);
  });

  test('the budget holds across API processes: a second API on the same Redis counts the same requests', async () => {
    const other = await startServer(stack.config, pino({ level: 'silent' }));
    try {
      const b = bearer(stack.keys.b.key);
      // b has spent 1 of 5 on the first API (above): 2 more there, 2 on the second, then both refuse.
      for (const [url, n] of [
        [stack.url, 2],
        [other.url, 2],
      ] as const) {
        for (let i = 0; i < n; i++) assert.equal((await request(url, 'GET', '/v1/jobs', undefined, b)).status, 200, `${url} #${i}`);
      }
      assertProblem(await request(other.url, 'GET', '/v1/jobs', undefined, b), 429, 'rate_limited', 'second API');
      assertProblem(await request(stack.url, 'GET', '/v1/jobs', undefined, b), 429, 'rate_limited', 'first API');
      assertProblem(await request(other.url, 'GET', '/v1/jobs', undefined, bearer(stack.keys.a.key)), 429, 'rate_limited', 'a on the second API');
    } finally {
      await other.close();
    }
  });
});

describe('quotas: active jobs and stored bytes, per tenant', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 1, env: { MAX_ACTIVE_JOBS_PER_TENANT: '1', MAX_STORED_BYTES_PER_TENANT: '1000' } });
  });
  after(() => stack?.stop());

  test('at MAX_ACTIVE_JOBS_PER_TENANT a create answers 429 quota_active_jobs; other tenants are unaffected; a cancel frees the slot; after the artifacts exist, 429 quota_storage', async () => {
    const first = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'fills the quota' }, { 'idempotency-key': 'quota-1' });
    assert.equal(first.status, 201);
    const second = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'one too many' });
    assertProblem(second, 429, 'quota_active_jobs');
    assertRetryAfter(second, 3600);
    assert.equal(await stack.db.job.count({ where: { tenant: { name: 'tenant-a' } } }), 1, 'the refused job was not stored');

    // b's quota is its own; b at its quota too, then a cancel frees the slot. (The worker is busy with a's job.)
    const b = bearer(stack.keys.b.key);
    const bJob = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'b' }, b);
    assert.equal(bJob.status, 201, JSON.stringify(bJob.body));
    assertProblem(await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, b), 429, 'quota_active_jobs', 'b at its quota');
    assert.equal((await request(stack.url, 'POST', `/v1/jobs/${bJob.body.id}/cancel`, undefined, b)).body.status, 'cancelled');
    const bAgain = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'b again' }, b);
    assert.equal(bAgain.status, 201, 'a cancelled job no longer counts');
    await request(stack.url, 'POST', `/v1/jobs/${bAgain.body.id}/cancel`, undefined, b);

    await waitFor(
      'the first job to succeed',
      async () => {
        const job = (await request(stack.url, 'GET', `/v1/jobs/${first.body.id}`)).body;
        assert.ok(!['failed', 'cancelled'].includes(job.status), JSON.stringify(job.error));
        return job.status === 'succeeded';
      },
      180_000,
      300,
    );
    const stored = (await request(stack.url, 'GET', `/v1/jobs/${first.body.id}/artifacts`)).body.data.reduce(
      (sum: number, a: { bytes: number }) => sum + a.bytes,
      0,
    );
    assert.ok(stored > 1000, `the artifacts hold ${stored} bytes`);

    const full = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'no room' });
    assertProblem(full, 429, 'quota_storage');
    assertRetryAfter(full, 86_400);
    assert.match(full.body.detail, new RegExp(String(stored)), 'the detail says how much is stored');
    // b stores nothing: unaffected.
    const bThird = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'b third' }, b);
    assert.equal(bThird.status, 201);
    await request(stack.url, 'POST', `/v1/jobs/${bThird.body.id}/cancel`, undefined, b);
  });

  test('an idempotent retry of a job already created is a replay, not a quota refusal', async () => {
    // Tenant a is at its storage quota now; retrying the request that created its job must still find that job.
    const job = await stack.db.job.findFirstOrThrow({ where: { name: 'fills the quota' } });
    const replay = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'fills the quota' }, { 'idempotency-key': 'quota-1' });
    assert.equal(replay.status, 201, JSON.stringify(replay.body));
    assert.equal(replay.body.id, job.id);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  });

  test("a model's ONNX exports count in the storage quota, once each; at the quota none is made, and what exists is still served", async () => {
    const job = await stack.db.job.findFirstOrThrow({ where: { name: 'fills the quota' } });
    const student = (await request(stack.url, 'GET', `/v1/models?source_job=${job.id}`)).body.data.find((m: { role: string }) => m.role === 'student');
    assert.ok(student, 'the job registered its student');
    // Tenant a is at its quota: no export is made.
    assertProblem(await request(stack.url, 'POST', `/v1/jobs/${job.id}/exports`, { formats: ['onnx'] }), 429, 'quota_storage', 'POST exports');
    const refused = await request(stack.url, 'GET', `/v1/models/${student.id}/model.onnx`);
    assertProblem(refused, 429, 'quota_storage', 'GET model.onnx');
    assertRetryAfter(refused, 3600);
    assert.equal(await stack.db.artifact.count({ where: { jobId: job.id, file: 'model.onnx' } }), 0, 'no export was written');

    // With room (an API with a larger quota), each file is counted when made, and once however often it is asked for.
    const roomy = await startServer({ ...stack.config, MAX_STORED_BYTES_PER_TENANT: 1e9 }, pino({ level: 'silent' }));
    const stored = async () => (await tenantUsage(stack.db, stack.keys.a.tenantId)).storedBytes;
    try {
      const before = await stored();
      const sizes = new Map<string, number>();
      for (const query of ['', '?quantize=uint8', '', '?quantize=uint8']) {
        const raw = await fetch(`${roomy.url}/v1/models/${student.id}/model.onnx${query}`, { headers: bearer(stack.keys.a.key) });
        assert.equal(raw.status, 200);
        sizes.set(query, (await raw.arrayBuffer()).byteLength);
        assert.equal(await stored(), before + [...sizes.values()].reduce((sum, n) => sum + n, 0), `stored after model.onnx${query}`);
      }
    } finally {
      await roomy.close();
    }
    // Served from what was kept, even at the quota.
    const kept = await fetch(`${stack.url}/v1/models/${student.id}/model.onnx`, { headers: bearer(stack.keys.a.key) });
    assert.equal(kept.status, 200);
  });
});

describe('sizes: bodies, lists, socket frames and jobs', () => {
  let stack: Stack;
  const MAX_BODY = 8192;
  before(async () => {
    stack = await startStack({
      workers: 0,
      env: { MAX_BODY_BYTES: String(MAX_BODY), MAX_SAMPLE_EPOCHS: '5000', MAX_MODEL_MACS: '1000' },
    });
  });
  after(() => stack?.stop());

  test('a body over MAX_BODY_BYTES answers 413 body_too_large, with or without a Content-Length; POST /v1/ws-tickets takes at most 1 KiB', async () => {
    const pad = (n: number) => 'x'.repeat(n);
    const big = { ...QUICK_JOB, name: 'big', metadata: { pad: pad(MAX_BODY) } };
    assertProblem(await request(stack.url, 'POST', '/v1/jobs', big), 413, 'body_too_large', 'POST /v1/jobs');
    assertProblem(await request(stack.url, 'POST', '/v1/jobs/job_00000000000000000000000000/cancel', { pad: pad(MAX_BODY) }), 413, 'body_too_large', 'cancel');
    assertProblem(await request(stack.url, 'POST', '/v1/ws-tickets', { pad: pad(1100) }), 413, 'body_too_large', 'ws-tickets');
    assert.equal((await request(stack.url, 'POST', '/v1/ws-tickets', { pad: pad(900) })).status, 201, 'a small body is fine');

    // Chunked, so the server cannot refuse by the header: it must count.
    const chunked = await rawPost(stack.url, '/v1/jobs', bearer(stack.keys.a.key), [`{"name":"${pad(4000)}`, pad(4000), pad(4000), '"}']);
    assert.equal(chunked.status, 413, chunked.text);
    assert.equal(JSON.parse(chunked.text).code, 'body_too_large');
    // Just under the limit is accepted as far as size goes (refused for what it says).
    const under = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, metadata: { pad: pad(MAX_BODY - 1000) } });
    assert.equal(under.status, 400, 'the metadata value is too long, but the body was read');
    assert.equal(await stack.db.job.count(), 0);
  });

  test('list sizes are bounded: limit above its maximum is 400 naming querystring:/limit', async () => {
    const job = (await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB)).body;
    for (const [path, max] of [
      ['/v1/jobs', 100],
      [`/v1/jobs/${job.id}/events`, 1000],
    ] as const) {
      assert.equal((await request(stack.url, 'GET', `${path}?limit=${max}`)).status, 200, `${path} limit=${max}`);
      for (const limit of [max + 1, 1_000_000, 2 ** 53]) {
        const answer = await request(stack.url, 'GET', `${path}?limit=${limit}`);
        assertProblem(answer, 400, 'invalid_request', `${path} limit=${limit}`);
        assert.equal(answer.body.errors[0].field, 'querystring:/limit');
      }
    }
    await request(stack.url, 'POST', `/v1/jobs/${job.id}/cancel`);
  });

  test('a WebSocket frame over 64 KiB closes the socket with 1009; 64 KiB is read', async () => {
    const socket = new WebSocket(`${stack.wsUrl}/v1/events`, { headers: bearer(stack.keys.a.key) });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const replies: any[] = [];
    socket.on('message', (m) => replies.push(JSON.parse(String(m))));
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.send('x'.repeat(64 * 1024));
    await waitFor('a reply to the 64 KiB frame', async () => replies.length > 0, 10_000, 50);
    assert.equal(replies[0].code, 'invalid_json');
    socket.send('x'.repeat(64 * 1024 + 1));
    assert.equal(await closed, 1009);
  });

  test('a job over MAX_SAMPLE_EPOCHS or MAX_MODEL_MACS is 400 naming the field, counting every teacher and uploaded datasets; one within them is created', async () => {
    // QUICK_JOB: 800 samples × (3 teacher + 3 student epochs) = 4800 sample-epochs; models of 640 and 64 multiply-adds.
    const fits = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    assert.equal(fits.status, 201, JSON.stringify(fits.body));
    await request(stack.url, 'POST', `/v1/jobs/${fits.body.id}/cancel`);

    const dense = (units: number) => ({
      layers: [
        { type: 'dense', units, activation: 'relu' },
        { type: 'dense', units: 4 },
      ],
    });
    const cases: Array<[string, unknown, string, RegExp]> = [
      ['one epoch too many', { ...QUICK_JOB, teacher: { ...QUICK_JOB.teacher, training: { epochs: 4 } } }, '/dataset', /MAX_SAMPLE_EPOCHS/],
      ["a baseline doubles the student's", { ...QUICK_JOB, distillation: { ...QUICK_JOB.distillation, baseline: true } }, '/dataset', /MAX_SAMPLE_EPOCHS/],
      ['a student too big', { ...QUICK_JOB, student: { model: dense(64), training: QUICK_JOB.student.training } }, '/student/model', /MAX_MODEL_MACS/],
      ['a teacher too big', { ...QUICK_JOB, teacher: { model: dense(64), training: QUICK_JOB.teacher.training } }, '/teacher/model', /MAX_MODEL_MACS/],
      [
        'a big dataset',
        { ...QUICK_JOB, dataset: { ...QUICK_JOB.dataset, options: { ...QUICK_JOB.dataset.options, samples: 100_000 } } },
        '/dataset',
        /MAX_SAMPLE_EPOCHS/,
      ],
    ];
    for (const [what, body, field, message] of cases) {
      const answer = await request(stack.url, 'POST', '/v1/jobs', body);
      assertProblem(answer, 400, 'invalid_request', what);
      const error = answer.body.errors.find((e: { field: string }) => e.field === field);
      assert.ok(error, `${what}: ${field} named in ${JSON.stringify(answer.body.errors)}`);
      assert.match(error.message, message, what);
      assert.ok(answer.body.detail.includes(field), `${what}: the detail names ${field}`);
    }
    // Every trained teacher counts, not only `teacher`.
    const teacher = QUICK_JOB.teacher;
    const several = await request(stack.url, 'POST', '/v1/jobs', {
      ...QUICK_JOB,
      teacher: undefined,
      teachers: [teacher, { model: dense(64), training: teacher.training }],
    });
    assertProblem(several, 400, 'invalid_request', 'several teachers');
    assert.deepEqual(several.body.errors.map((e: { field: string }) => e.field).sort(), ['/dataset', '/teachers/1/model'], JSON.stringify(several.body.errors));
    assert.match(several.body.errors.find((e: { field: string }) => e.field === '/dataset').message, /7200 sample-epochs/, '800 samples × (3 + 3 + 3) epochs');

    // An uploaded dataset counts with its own size and shape: 300 rows of 4 features.
    const rows = Array.from({ length: 300 }, (_, i) => `${(i % 7) / 7},${(i % 5) / 5},${(i % 3) / 3},${(i % 11) / 11},${i % 2 ? 'odd' : 'even'}`);
    const form = new FormData();
    form.append('label_column', 'label');
    form.append('csv', new Blob([`a,b,c,d,label\n${rows.join('\n')}\n`]), 'small.csv');
    const upload = await fetch(`${stack.url}/v1/datasets`, { method: 'POST', body: form, headers: { authorization: `Bearer ${stack.keys.a.key}` } });
    const dataset = (await upload.json()) as { id: string; num_train: number };
    assert.equal(upload.status, 201, JSON.stringify(dataset));
    const onUpload = (student: unknown) => ({ ...QUICK_JOB, dataset: { source: dataset.id }, student });
    const longStudent = await request(stack.url, 'POST', '/v1/jobs', onUpload({ model: { preset: 'linear' }, training: { epochs: 20 } }));
    assertProblem(longStudent, 400, 'invalid_request', 'uploaded dataset, 20 student epochs');
    assert.match(longStudent.body.errors[0].message, new RegExp(`${dataset.num_train * 23} sample-epochs`), JSON.stringify(longStudent.body.errors));
    const wideStudent = await request(
      stack.url,
      'POST',
      '/v1/jobs',
      onUpload({
        model: {
          layers: [
            { type: 'dense', units: 300, activation: 'relu' },
            { type: 'dense', units: 2 },
          ],
        },
        training: { epochs: 3 },
      }),
    );
    assertProblem(wideStudent, 400, 'invalid_request', 'uploaded dataset, a student too big');
    assert.equal(wideStudent.body.errors[0].field, '/student/model', JSON.stringify(wideStudent.body.errors));
    const fitsUpload = await request(stack.url, 'POST', '/v1/jobs', onUpload({ model: { preset: 'linear' }, training: { epochs: 3 } }));
    assert.equal(fitsUpload.status, 201, JSON.stringify(fitsUpload.body));
    await request(stack.url, 'POST', `/v1/jobs/${fitsUpload.body.id}/cancel`);

    // A transfer set (dataset.limit.train) brings a big dataset back within the limit.
    const limited = await request(stack.url, 'POST', '/v1/jobs', {
      ...QUICK_JOB,
      dataset: { ...QUICK_JOB.dataset, options: { ...QUICK_JOB.dataset.options, samples: 100_000 }, limit: { train: 500 } },
    });
    assert.equal(limited.status, 201, JSON.stringify(limited.body));
    await request(stack.url, 'POST', `/v1/jobs/${limited.body.id}/cancel`);
  });
});

/** A POST whose body goes out in chunks (Transfer-Encoding: chunked, no Content-Length). */
function rawPost(base: string, path: string, headers: Record<string, string>, chunks: string[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    // The server may answer and close before the last chunk: that is the point.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}
