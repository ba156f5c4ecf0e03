import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/ids.js';
import { recordJobExports } from '../../src/jobs/job-exports.js';
import { tenantUsage } from '../../src/jobs/tenant-usage.js';
import { sweepOrphanedUploads } from '../../src/resources/orphaned-uploads.js';
import { openArtifactStore } from '../../src/storage/artifact-store.js';
import { request, waitFor } from '../support/http.js';
import { cancellableJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('DELETE /v1/jobs/{id} and retention', () => {
  let stack: Stack;
  let tenantA: string;
  // Retention of one day, swept every second: only jobs whose finished_at a test moves back are old enough.
  before(async () => {
    stack = await startStack({ workers: 1, env: { JOB_RETENTION_DAYS: '1', SWEEP_INTERVAL_SECONDS: '1' } });
    tenantA = (await stack.db.apiKey.findFirstOrThrow({ where: { id: stack.keys.a.id } })).tenantId;
  });
  after(() => stack.stop());

  const jobDir = (id: string) => join(stack.config.ARTIFACT_DIR, 'jobs', id);
  const finished = (id: string) =>
    waitFor(
      `job ${id} to end`,
      async () => {
        const { body } = await request(stack.url, 'GET', `/v1/jobs/${id}`);
        return ['succeeded', 'failed', 'cancelled'].includes(body.status) && body;
      },
      180_000,
      300,
    );
  const submit = async (body: unknown, headers: Record<string, string> = {}) => {
    const created = await request(stack.url, 'POST', '/v1/jobs', body, headers);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id as string;
  };
  const succeeded = async (body: unknown = QUICK_JOB) => {
    const id = await submit(body);
    assert.equal((await finished(id)).status, 'succeeded');
    return id;
  };
  const modelsOf = async (jobId: string) =>
    (await request(stack.url, 'GET', `/v1/models?source_job=${jobId}`)).body.data as Array<{ id: string; role: string; bytes: number }>;
  const artifactBytes = async (jobId: string) => Number((await stack.db.artifact.aggregate({ where: { jobId }, _sum: { bytes: true } }))._sum.bytes ?? 0n);

  test('a finished job goes with its rows, files and models; usage drops by exactly its bytes', async () => {
    const id = await submit(QUICK_JOB, { 'idempotency-key': 'delete-me' });
    assert.equal((await finished(id)).status, 'succeeded');
    const models = await modelsOf(id);
    assert.ok(models.length >= 1, 'the job registered its models');
    assert.ok(await exists(jobDir(id)));
    const bytes = await artifactBytes(id);
    assert.ok(bytes > 0);
    const usageBefore = (await tenantUsage(stack.db, tenantA)).storedBytes;

    const deleted = await request(stack.url, 'DELETE', `/v1/jobs/${id}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(deleted.body, { id, object: 'job', deleted: true, deleted_models: models.map((m) => m.id).sort(), kept_models: [] });

    assert.equal((await tenantUsage(stack.db, tenantA)).storedBytes, usageBefore - bytes);
    assert.equal(await exists(jobDir(id)), false, 'its folder is gone');
    for (const path of [`/v1/jobs/${id}`, `/v1/jobs/${id}/events`, `/v1/jobs/${id}/artifacts`])
      assert.equal((await request(stack.url, 'GET', path)).status, 404, path);
    for (const m of models) assert.equal((await request(stack.url, 'GET', `/v1/models/${m.id}`)).status, 404);
    for (const table of ['jobEvent', 'artifact', 'checkpoint', 'webhookDelivery'] as const) {
      assert.equal(await (stack.db[table] as unknown as { count(a: object): Promise<number> }).count({ where: { jobId: id } }), 0, table);
    }
    assert.equal(await stack.db.idempotencyKey.count({ where: { jobId: id } }), 0);
    // The Idempotency-Key no longer leads to the deleted job: the same request makes a new one.
    const again = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, { 'idempotency-key': 'delete-me' });
    assert.equal(again.status, 201);
    assert.notEqual(again.body.id, id);
    await finished(again.body.id);
    // Deleting twice: the second finds nothing.
    assert.equal((await request(stack.url, 'DELETE', `/v1/jobs/${id}`)).body.code, 'not_found');
    // An export that was being made when the job went records nothing (its route then answers 404).
    const lateExport = { files: [{ kind: 'student', file: 'model.onnx', key: `jobs/${id}/exports/student/model.onnx`, bytes: 1, sha256: 'a'.repeat(64) }] };
    assert.equal(await recordJobExports(stack.db, openArtifactStore(stack.config.ARTIFACT_DIR), id, lateExport), false);
    assert.equal(await stack.db.artifact.count({ where: { jobId: id } }), 0);
  });

  test('a queued or running job is refused with 409 job_active until it has ended', async () => {
    const id = await submit(cancellableJob());
    const refused = await request(stack.url, 'DELETE', `/v1/jobs/${id}`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'job_active');
    assert.match(refused.body.detail, /cancel/);
    await request(stack.url, 'POST', `/v1/jobs/${id}/cancel`);
    assert.equal((await finished(id)).status, 'cancelled');
    assert.equal((await request(stack.url, 'DELETE', `/v1/jobs/${id}`)).status, 200);
    assert.equal(await exists(jobDir(id)), false);
  });

  test('a model another job names is kept as a standalone model, counted in storage, deletable on its own', async () => {
    const first = await succeeded();
    const models = await modelsOf(first);
    const student = models.find((m) => m.role === 'student')!;
    const second = await succeeded({ ...QUICK_JOB, name: 'taught by the first student', teacher: { model_id: student.id } });
    const bytes = await artifactBytes(first);
    const usageBefore = (await tenantUsage(stack.db, tenantA)).storedBytes;

    const deleted = await request(stack.url, 'DELETE', `/v1/jobs/${first}`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(deleted.body.kept_models, [{ id: student.id, used_by: [second] }]);
    assert.deepEqual(
      deleted.body.deleted_models,
      models
        .filter((m) => m.id !== student.id)
        .map((m) => m.id)
        .sort(),
    );
    assert.equal((await tenantUsage(stack.db, tenantA)).storedBytes, usageBefore - bytes + student.bytes);
    assert.equal(await exists(jobDir(first)), false);

    const kept = await request(stack.url, 'GET', `/v1/models/${student.id}`);
    assert.equal(kept.status, 200);
    assert.equal(kept.body.source, 'job');
    assert.equal(kept.body.source_job, null);
    const weights = await request(stack.url, 'GET', `/v1/models/${student.id}/weights.bin`);
    assert.equal(weights.status, 200, 'its files were copied out of the deleted job');
    const modelJson = await request(stack.url, 'GET', `/v1/models/${student.id}/model.json`);
    assert.equal(modelJson.status, 200);
    // Still a teacher: a new job may name it.
    await succeeded({ ...QUICK_JOB, name: 'taught by the kept student', teacher: { model_id: student.id } });

    // Deleted on its own, its files go and the usage drops by its bytes.
    const usageKept = (await tenantUsage(stack.db, tenantA)).storedBytes;
    assert.equal((await request(stack.url, 'DELETE', `/v1/models/${student.id}`)).status, 200);
    assert.equal((await tenantUsage(stack.db, tenantA)).storedBytes, usageKept - student.bytes);
    assert.equal(await exists(join(stack.config.ARTIFACT_DIR, 'models', student.id)), false);
  });

  test("a delete racing a submission that names the job's model leaves both consistent", async () => {
    for (let round = 0; round < 3; round++) {
      const id = await succeeded();
      const student = (await modelsOf(id)).find((m) => m.role === 'student')!;
      const [deleted, created] = await Promise.all([
        request(stack.url, 'DELETE', `/v1/jobs/${id}`),
        request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'racing', teacher: { model_id: student.id } }),
      ]);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      const kept = deleted.body.kept_models.some((m: { id: string }) => m.id === student.id);
      if (created.status === 201) {
        assert.ok(kept, 'a job that got in names a kept model');
        assert.equal((await finished(created.body.id)).status, 'succeeded', 'and trains on it');
      } else {
        // Found gone when its references were checked (400 naming the field), or while it was being stored (409).
        const refused =
          (created.status === 400 && created.body.errors?.some((e: { field: string }) => e.field === '/teacher/model_id')) ||
          (created.status === 409 && created.body.code === 'reference_deleted');
        assert.ok(refused, JSON.stringify(created.body));
        assert.equal(kept, false);
        assert.equal((await request(stack.url, 'GET', `/v1/models/${student.id}`)).status, 404);
      }
    }
  });

  test('a delete racing a cancel: never a 5xx; the job ends cancelled or deleted, nothing half-done', async () => {
    // The worker is busy with the first job, so the others wait queued and a cancel ends them at once.
    const busy = await submit(cancellableJob());
    await waitFor('the first job to run', async () => (await request(stack.url, 'GET', `/v1/jobs/${busy}`)).body.status === 'running', 120_000, 200);
    for (let round = 0; round < 5; round++) {
      const id = await submit(cancellableJob());
      const [cancelled, deleted] = await Promise.all([request(stack.url, 'POST', `/v1/jobs/${id}/cancel`), request(stack.url, 'DELETE', `/v1/jobs/${id}`)]);
      assert.ok([200, 404].includes(cancelled.status), `cancel: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
      assert.ok([200, 409].includes(deleted.status), `delete: ${deleted.status} ${JSON.stringify(deleted.body)}`);
      const after = await request(stack.url, 'GET', `/v1/jobs/${id}`);
      if (deleted.status === 200) {
        assert.equal(after.status, 404);
        assert.equal(await stack.db.jobEvent.count({ where: { jobId: id } }), 0);
      } else {
        assert.equal(after.body.status, 'cancelled');
        assert.equal((await request(stack.url, 'DELETE', `/v1/jobs/${id}`)).status, 200, 'deletable once cancelled');
      }
    }
    await request(stack.url, 'POST', `/v1/jobs/${busy}/cancel`);
    await finished(busy);
  });

  test('another tenant: an admin key gets 403 admin_read_only, a plain key 404; the job stays', async () => {
    const id = await succeeded();
    const admin = await request(stack.url, 'DELETE', `/v1/jobs/${id}`, undefined, { authorization: `Bearer ${stack.keys.admin.key}` });
    assert.equal(admin.status, 403);
    assert.equal(admin.body.code, 'admin_read_only');
    const other = await request(stack.url, 'DELETE', `/v1/jobs/${id}`, undefined, { authorization: `Bearer ${stack.keys.b.key}` });
    assert.equal(other.status, 404);
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${id}`)).status, 200);
    assert.ok(await exists(jobDir(id)));
    const bad = await request(stack.url, 'DELETE', `/v1/jobs/${'x'.repeat(65)}`);
    assert.equal(bad.status, 400);
  });

  test('the orphan sweep removes job folders no row names, and keeps those of existing jobs', async () => {
    const id = await succeeded();
    const orphan = newId('job');
    await mkdir(join(jobDir(orphan), 'checkpoints'), { recursive: true });
    await writeFile(join(jobDir(orphan), 'checkpoints', '1-1.bin'), 'left behind by a crash');
    // A copy of a job's model that a crash cut short (deleteJob copies kept models to models/<id>).
    const student = (await modelsOf(id)).find((m) => m.role === 'student')!;
    const leaked = join(stack.config.ARTIFACT_DIR, 'models', student.id);
    await mkdir(leaked, { recursive: true });
    await writeFile(join(leaked, 'weights.bin'), 'half a copy');
    const store = openArtifactStore(stack.config.ARTIFACT_DIR);
    // Within the grace period nothing goes; past it (grace 0 here) the orphans go and the job's folder stays.
    assert.ok(!(await sweepOrphanedUploads(stack.db, store)).includes(`jobs/${orphan}`));
    const removed = await sweepOrphanedUploads(stack.db, store, 0, Date.now() + 1000);
    assert.ok(removed.includes(`jobs/${orphan}`), JSON.stringify(removed));
    assert.ok(removed.includes(`models/${student.id}`), JSON.stringify(removed));
    assert.equal((await request(stack.url, 'GET', `/v1/models/${student.id}/weights.bin`)).status, 200, 'the model still reads from its job');
    assert.equal(await exists(jobDir(orphan)), false);
    assert.ok(await exists(jobDir(id)));
    assert.ok((await readdir(join(stack.config.ARTIFACT_DIR, 'jobs'))).includes(id));
  });

  test('retention: a job finished longer ago than JOB_RETENTION_DAYS is deleted by the worker, with a log line and a metric', async () => {
    const id = await succeeded();
    const fresh = await succeeded();
    await stack.db.job.update({ where: { id }, data: { finishedAt: new Date(Date.now() - 2 * 86_400_000) } });
    const worker = stack.workers[0]!;
    const line = await worker.waitForLog((l) => l.msg === 'job deleted by retention' && l.jobId === id, 60_000);
    assert.equal(line.retentionDays, 1);
    assert.equal(await stack.db.job.count({ where: { id } }), 0);
    assert.equal(await exists(jobDir(id)), false);
    assert.equal((await request(stack.url, 'GET', `/v1/jobs/${fresh}`)).status, 200, 'a recent job stays');
    await waitFor(
      'the retention metric',
      async () => {
        const text = await (await fetch(`${stack.url}/metrics`)).text();
        return text.split('\n').some((l) => l.startsWith('distill_retention_deleted_jobs_total') && Number(l.slice(l.lastIndexOf(' ') + 1)) >= 1);
      },
      60_000,
      500,
    );
  });
});
