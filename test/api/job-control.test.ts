import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { canonicalJson, sha256 } from '../../src/jobs/canonical-json.js';
import { followJob, request, waitFor } from '../support/http.js';
import { cancellableJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const getJob = (stack: Stack, id: string) => request(stack.url, 'GET', `/v1/jobs/${id}`).then((r) => r.body);

describe('job control: validation, idempotency, cancellation', () => {
  let stack: Stack;
  before(async () => {
    // No worker at first: jobs stay queued until a test starts one.
    stack = await startStack({ workers: 0 });
  });
  after(() => stack.stop());

  describe('every invalid field is a 400 problem naming it', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['missing dataset', { teacher: QUICK_JOB.teacher, student: QUICK_JOB.student }, '/dataset'],
      ['unknown top-level field', { ...QUICK_JOB, colour: 'red' }, '/colour'],
      ['zero epochs', { ...QUICK_JOB, student: { ...QUICK_JOB.student, training: { epochs: 0 } } }, '/student/training/epochs'],
      ['epochs over the server limit', { ...QUICK_JOB, teacher: { ...QUICK_JOB.teacher, training: { epochs: 100000 } } }, '/teacher/training/epochs'],
      ['negative temperature', { ...QUICK_JOB, distillation: { temperature: -1 } }, '/distillation/temperature'],
      ['alpha above 1', { ...QUICK_JOB, distillation: { alpha: 1.5 } }, '/distillation/alpha'],
      ['unknown preset', { ...QUICK_JOB, student: { model: { preset: 'gigantic' } } }, '/student/model/preset'],
      ['bad layer field', { ...QUICK_JOB, student: { model: { layers: [{ type: 'dense', units: 0 }] } } }, '/student/model/layers/0/units'],
      [
        'conv on flat input',
        { ...QUICK_JOB, student: { model: { layers: [{ type: 'conv2d', filters: 2, kernel_size: 3 }, { type: 'flatten' }, { type: 'dense', units: 4 }] } } },
        '/student/model/layers/0',
      ],
      ['unknown dataset source', { ...QUICK_JOB, dataset: { source: '' } }, '/dataset/source'],
      ['bad priority', { ...QUICK_JOB, priority: 'urgent' }, '/priority'],
      ['too much metadata', { ...QUICK_JOB, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, '/metadata'],
      ['non-string metadata', { ...QUICK_JOB, metadata: { a: 1 } }, '/metadata/a'],
      ['max_runtime_seconds zero', { ...QUICK_JOB, max_runtime_seconds: 0 }, '/max_runtime_seconds'],
      ['webhook host not allowed', { ...QUICK_JOB, webhook: { url: 'http://169.254.169.254/latest', secret: 'whsec_abcdefgh' } }, '/webhook/url'],
    ];
    for (const [name, body, field] of cases) {
      test(name, async () => {
        const response = await request(stack.url, 'POST', '/v1/jobs', body);
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
        assert.equal(response.body.code, 'invalid_request');
        const fields = response.body.errors.map((e: { field: string }) => e.field);
        assert.ok(fields[0].startsWith(field), `first error names ${field}, got ${JSON.stringify(response.body.errors)}`);
        assert.ok(response.body.detail.includes(field), 'the detail names the field too');
      });
    }

    test('malformed JSON and a wrong content type are refused clearly', async () => {
      const bad = await request(stack.url, 'POST', '/v1/jobs', '{"dataset":', { 'content-type': 'application/json' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'invalid_json');
      const text = await request(stack.url, 'POST', '/v1/jobs', 'hello', { 'content-type': 'text/plain' });
      assert.equal(text.status, 415);
    });

    test('nothing invalid was stored', async () => {
      assert.equal(await stack.db.job.count(), 0);
    });
  });

  test('unknown and malformed ids answer 404 on every job route', async () => {
    for (const id of ['job_00000000000000000000000000', 'nope', 'ds_01m8g85xb1pmddbr7trj3zasr8']) {
      for (const [method, path] of [
        ['GET', `/v1/jobs/${id}`],
        ['POST', `/v1/jobs/${id}/cancel`],
        ['GET', `/v1/jobs/${id}/events`],
        ['GET', `/v1/jobs/${id}/artifacts`],
        ['GET', `/v1/jobs/${id}/artifacts/student/model.json`],
      ] as const) {
        const response = await request(stack.url, method, path);
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(response.body.code, 'not_found');
      }
    }
  });

  describe('Idempotency-Key', () => {
    test('same key and same body → the same job', async () => {
      const first = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, { 'idempotency-key': 'same-1' });
      // Key order differs: the body is compared as JSON, not as text.
      const reordered = Object.fromEntries(Object.entries(QUICK_JOB).reverse());
      const second = await request(stack.url, 'POST', '/v1/jobs', reordered, { 'idempotency-key': 'same-1' });
      assert.equal(first.status, 201);
      assert.equal(second.status, 201);
      assert.equal(second.body.id, first.body.id);
      assert.equal(second.headers.get('idempotent-replayed'), 'true');
      assert.equal(await stack.db.job.count({ where: { id: first.body.id } }), 1);
    });

    test('same key, different body → 422', async () => {
      await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, { 'idempotency-key': 'diff-1' });
      const other = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, seed: 8 }, { 'idempotency-key': 'diff-1' });
      assert.equal(other.status, 422);
      assert.equal(other.body.code, 'idempotency_key_reused');
    });

    test('the first request still in flight → 409', async () => {
      const results = await Promise.all(Array.from({ length: 6 }, () => request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, { 'idempotency-key': 'race-1' })));
      const created = results.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') !== 'true');
      assert.equal(created.length, 1, 'exactly one request created the job');
      for (const r of results) {
        assert.ok(r.status === 201 || r.status === 409, `status ${r.status}`);
        if (r.status === 201) assert.equal(r.body.id, created[0]!.body.id);
        if (r.status === 409) assert.equal(r.body.code, 'idempotency_request_in_flight');
      }
      // Whatever the race gave, a key whose first request has not finished answers 409 for the same body.
      await stack.db.idempotencyKey.create({
        data: { tenantId: stack.keys.a.tenantId, key: 'race-2', requestHash: sha256(canonicalJson(QUICK_JOB)), expiresAt: new Date(Date.now() + 60_000) },
      });
      const pending = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, { 'idempotency-key': 'race-2' });
      assert.equal(pending.status, 409);
      assert.equal(pending.body.code, 'idempotency_request_in_flight');
    });
  });

  test('cancel while queued: cancelled at once, and never run', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    const cancelled = await request(stack.url, 'POST', `/v1/jobs/${created.body.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, 'cancelled');
    assert.ok(cancelled.body.finished_at);
    const again = await request(stack.url, 'POST', `/v1/jobs/${created.body.id}/cancel`);
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'cancelled', 'cancelling a terminal job changes nothing');
    assert.equal(again.body.finished_at, cancelled.body.finished_at);

    // A worker comes up afterwards and finishes the other queued jobs; this one stays untouched.
    await stack.startWorker();
    const other = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'after-cancel' });
    await waitFor('the next job to finish', async () => (await getJob(stack, other.body.id)).status === 'succeeded', 90_000);
    const job = await getJob(stack, created.body.id);
    assert.equal(job.status, 'cancelled');
    assert.equal(job.attempts, 0, 'no attempt was ever started');
    const events = (await request(stack.url, 'GET', `/v1/jobs/${job.id}/events`)).body.data;
    assert.deepEqual(
      events.map((e: { data: { status: string } }) => e.data.status),
      ['queued', 'cancelled'],
    );
  });

  test('cancel while running: cancelling, then cancelled within a batch, never retried', async () => {
    if (stack.workers.length === 0) await stack.startWorker();
    const created = await request(stack.url, 'POST', '/v1/jobs', cancellableJob());
    const ws = await followJob(stack.wsUrl, created.body.id);
    await ws.waitForEvent((e) => e.type === 'metrics' && e.data.phase === 'distilling', 90_000);
    const cancelling = await request(stack.url, 'POST', `/v1/jobs/${created.body.id}/cancel`);
    assert.equal(cancelling.status, 200);
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.body.status), cancelling.body.status);
    const closed = await ws.closed;
    assert.equal(closed.code, 1000);
    const statuses = ws.events.filter((e) => e.type === 'status').map((e) => e.data.status);
    assert.deepEqual(statuses, ['queued', 'running', 'cancelling', 'cancelled']);
    const job = await getJob(stack, created.body.id);
    assert.equal(job.status, 'cancelled');
    assert.equal(job.attempts, 1);
    assert.equal(job.result, null);
    // Stays cancelled: BullMQ does not retry it.
    await new Promise((r) => setTimeout(r, 3000));
    const later = await getJob(stack, created.body.id);
    assert.equal(later.status, 'cancelled');
    assert.equal(later.attempts, 1);
  });
});
