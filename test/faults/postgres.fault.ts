// Postgres restarted while a job runs. During the outage the API answers 503 problem+json
// (code database_unavailable) for whatever needs the database, and never acknowledges a job it could
// not store; afterwards it recovers by itself. The worker never completes a job whose result is not
// stored, and retries its writes (DB_RETRY_SECONDS) so that no job fails because the database was away
// for a few seconds. Runs against a private Postgres cluster (test/support/services.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { request, waitFor } from '../support/http.js';
import { type PrivatePostgres, startPrivatePostgres } from '../support/services.js';
import { startStack, type Stack, type WorkerProcess } from '../support/stack.js';
import { describeJobs, FAULT_ENV, midDistillation, smallJob, submitAll, untilAllTerminal, untilEvent, workerRunning } from './harness.js';
import { checkInvariants } from './invariants.js';

const OUTAGE_MS = Number(process.env.TEST_PG_OUTAGE_MS ?? 6000);

/** What the worker logged about a job: its messages, with the error's first line. */
function story(worker: WorkerProcess, jobId: string): string {
  return worker.logs
    .filter((l) => l.jobId === jobId)
    .map((l) => `${l.msg}${l.err ? ` (${String((l.err as { message?: string }).message ?? l.err).split('\n')[0]})` : ''}`)
    .join(' | ');
}

describe('fault: Postgres restarted while a job runs', () => {
  let postgres: PrivatePostgres;
  let stack: Stack;
  before(async () => {
    postgres = await startPrivatePostgres();
    stack = await startStack({ workers: 1, env: { ...FAULT_ENV, DATABASE_URL: postgres.url } });
  });
  after(async () => {
    await stack?.stop();
    await postgres?.stop();
  });

  test('restart: 503 database_unavailable during the outage, recovery by itself; no job lost, one terminal state each, results stored', async () => {
    const ids = await submitAll(stack.url, [smallJob('running-through-outage', 8), smallJob('queued-1'), smallJob('queued-2')]);
    const running = ids[0]!;
    await workerRunning(stack.workers, running);
    const checkpoint = await untilEvent(stack.db, running, (e) => e.type === 'checkpoint' && e.data.phase === 'distilling', 'a distillation checkpoint');
    await untilEvent(stack.db, running, midDistillation(Number(checkpoint.data.epoch)), 'a batch after the checkpoint');

    await postgres.stopServer();
    const downAt = Date.now();
    const needDb: Array<[string, string, unknown?]> = [
      ['GET', `/v1/jobs/${running}`],
      ['GET', `/v1/jobs/${running}/events`],
      ['GET', '/v1/jobs'],
      ['POST', '/v1/jobs', smallJob('during-outage')],
    ];
    for (const [method, path, body] of needDb) {
      const res = await request(stack.url, method, path, body);
      assert.equal(res.status, 503, `${method} ${path} during the outage: ${res.status} ${JSON.stringify(res.body)}`);
      assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/, `${method} ${path}: problem+json`);
      assert.equal(res.body.code, 'database_unavailable', `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    assert.equal((await request(stack.url, 'GET', '/readyz')).status, 503, 'not ready without Postgres');
    assert.equal((await request(stack.url, 'GET', '/healthz')).status, 200, 'but alive');
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    await postgres.startServer();
    const upAt = Date.now();

    await waitFor('the API to answer again', async () => (await request(stack.url, 'GET', `/v1/jobs/${running}`)).status === 200, 30_000, 200);
    console.log(
      `Postgres down ${((upAt - downAt) / 1000).toFixed(1)} s; the API answered again ${((Date.now() - upAt) / 1000).toFixed(1)} s after it came back`,
    );
    assert.equal((await request(stack.url, 'GET', '/readyz')).status, 200);

    await untilAllTerminal(stack.url, ids);
    console.log(`the worker on the running job: ${story(stack.workers[0]!, running)}`);
    // Every job succeeds, the one that ran through the outage included: its writes were retried.
    const summaries = await checkInvariants(stack, ids);
    console.log(describeJobs(summaries));
    assert.ok(
      stack.workers[0]!.logs.some((l) => l.jobId === running && l.msg === 'database write failed: retrying'),
      'the worker retried a write during the outage',
    );
  });

  test('one write fails as on a dropped connection (57P01) while Postgres stays up: no job lost, one terminal state each, the job succeeds in its first attempt', async () => {
    const ids = await submitAll(stack.url, [smallJob('write-fails-once', 6), smallJob('beside-1'), smallJob('beside-2')]);
    const target = ids[0]!;
    // The server's own error for a connection it terminates, raised once, on the first metrics event of
    // the target job's second distillation epoch: deterministic, unlike a restart's timing.
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query(`
        CREATE SEQUENCE fault_once;
        CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.job_id = '${target}' AND NEW.type = 'metrics' AND NEW.data->>'phase' = 'distilling'
             AND (NEW.data->>'epoch')::int >= 2 AND nextval('fault_once') = 1 THEN
            RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER inject_fault BEFORE INSERT ON job_events FOR EACH ROW EXECUTE FUNCTION inject_fault();`);
      await untilAllTerminal(stack.url, ids);
      const fired = await admin.query('SELECT is_called FROM fault_once');
      assert.equal(fired.rows[0]?.is_called, true, 'the injected failure happened');
    } finally {
      await admin
        .query('DROP TRIGGER IF EXISTS inject_fault ON job_events; DROP FUNCTION IF EXISTS inject_fault(); DROP SEQUENCE IF EXISTS fault_once;')
        .catch(() => {});
      await admin.end();
    }
    console.log(`the worker on the job: ${story(stack.workers[0]!, target)}`);
    const summaries = await checkInvariants(stack, ids);
    console.log(describeJobs(summaries));
    assert.equal(summaries.find((s) => s.id === target)?.attempts, 1, 'the failed write was retried within the attempt, not by a new one');
  });
});
