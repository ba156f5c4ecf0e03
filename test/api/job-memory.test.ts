/**
 * Issue 13, items 3, 4 and 6: a job that cannot fit the worker's memory budget is refused at submit
 * (400 naming the field that makes it too big); a run whose loss turns non-finite fails `diverged` at
 * once, without retries or a registered model; and nothing a client sees of a failed job (events, the
 * job's `error`) carries a server path, a stack or a dependency's raw error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/ids.js';
import { request, waitFor, type Response } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const BUDGET_MB = 1024;
const TERMINAL = ['succeeded', 'failed', 'cancelled'];
/** What must never reach a client: an absolute path, a file URL, a stack frame, a module resolution error. */
const SERVER_TEXT = [
  /(^|[\s'"(=:])\/(?:[\w.@+-]+\/)+/,
  /file:\/\//,
  /\n\s+at\s/,
  /\bat .+:\d+:\d+/,
  /Cannot find (package|module)/,
  /node_modules/,
  /dist\/ml/,
];

function assertTooBig(answer: Response, field: RegExp, where: string): void {
  assert.equal(answer.status, 400, `${where}: ${JSON.stringify(answer.body).slice(0, 500)}`);
  assert.equal(answer.body.code, 'invalid_request', where);
  const problem = (answer.body.errors as Array<{ field: string; message: string }>).find((e) => /WORKER_MEMORY_BUDGET_MB/.test(e.message));
  assert.ok(problem, `${where}: a memory problem among ${JSON.stringify(answer.body.errors)}`);
  assert.match(problem.field, field, where);
  assert.match(problem.message, new RegExp(`about \\d+ MiB .*\\(${BUDGET_MB} MiB\\)`), `${where}: estimate vs budget`);
}

async function finished(stack: Stack, id: string): Promise<Response> {
  return waitFor(
    `job ${id} ends`,
    async () => {
      const job = await request(stack.url, 'GET', `/v1/jobs/${id}`);
      return TERMINAL.includes(job.body.status) ? job : undefined;
    },
    240_000,
  );
}

async function eventsOf(stack: Stack, id: string): Promise<Array<Record<string, unknown>>> {
  const page = await request(stack.url, 'GET', `/v1/jobs/${id}/events?limit=1000`);
  assert.equal(page.status, 200);
  return page.body.data;
}

function assertClean(what: string, value: unknown): void {
  const text = JSON.stringify(value);
  for (const re of SERVER_TEXT) assert.doesNotMatch(text, re, `${what} holds server text: ${text.slice(0, 600)}`);
}

/** A model row as an upload leaves it, of the given size and storage key. */
async function storedModel(stack: Stack, parameters: number, storageKey: string): Promise<string> {
  const id = newId('mdl');
  await stack.db.model.create({
    data: {
      id,
      tenantId: stack.keys.a.tenantId,
      source: 'uploaded',
      inputShape: [16],
      outputShape: [4],
      parameters,
      bytes: BigInt(parameters * 4),
      sha256: '0'.repeat(64),
      storageKey,
    },
  });
  return id;
}

describe('memory budget, non-retriable failures, clean errors', () => {
  let stack: Stack;
  before(async () => {
    // auto: the worker tries the native packages first (not installed here), as in production.
    stack = await startStack({ workers: 1, env: { WORKER_MEMORY_BUDGET_MB: String(BUDGET_MB), JOB_ATTEMPTS: '2', TRAINING_BACKEND: 'auto' } });
  });
  after(() => stack?.stop());

  test('a job that cannot fit the budget is refused at submit, naming the field that makes it too big', async () => {
    const before = await stack.db.job.count();
    const synthetic = (options: Record<string, unknown>) => ({ ...QUICK_JOB, dataset: { source: 'builtin:synthetic', options: { classes: 4, ...options } } });
    assertTooBig(
      await request(stack.url, 'POST', '/v1/jobs', synthetic({ samples: 1_000_000, features: 100_000 })),
      /^\/dataset\/options\/features$/,
      '1,000,000 × 100,000 synthetic',
    );
    assertTooBig(
      await request(stack.url, 'POST', '/v1/jobs', synthetic({ samples: 1_000_000, features: 64 })),
      /^\/dataset\/options\/samples$/,
      'a million samples',
    );
    assertTooBig(
      await request(stack.url, 'POST', '/v1/jobs', synthetic({ samples: 200, features: 20_000, clusters_per_class: 64, classes: 1000 })),
      /^\/dataset\/options\/clusters_per_class$/,
      'many clusters of many classes',
    );
    assertTooBig(
      await request(stack.url, 'POST', '/v1/jobs', {
        ...QUICK_JOB,
        dataset: { source: 'builtin:synthetic', options: { samples: 3000, shape: [8, 8, 1], classes: 4 } },
        student: { model: { preset: 'linear', input_shape: [512, 512, 1] } },
      }),
      /^\/student\/model\/input_shape$/,
      'inputs resized far above the data',
    );
    assertTooBig(
      await request(stack.url, 'POST', '/v1/jobs', {
        ...QUICK_JOB,
        dataset: { source: 'builtin:mnist' },
        teacher: { model: { preset: 'cnn-teacher' }, training: { epochs: 1, batch_size: 16384 } },
      }),
      /^\/teacher\/training\/batch_size$/,
      'a huge batch of a CNN',
    );
    const wide = {
      model: {
        layers: [
          { type: 'dense', units: 8192, activation: 'relu' },
          { type: 'dense', units: 4 },
        ],
      },
      training: { epochs: 1 },
    };
    const { teacher: _t, ...noTeacher } = QUICK_JOB;
    assertTooBig(
      await request(stack.url, 'POST', '/v1/jobs', {
        ...noTeacher,
        dataset: { source: 'builtin:synthetic', options: { samples: 500, features: 1024, classes: 4 } },
        teachers: [wide, wide, wide, wide, wide, wide],
      }),
      /^\/teachers\/\d+\/model$/,
      'several wide teachers',
    );
    const huge = await storedModel(stack, 200_000_000, 'nowhere/huge');
    assertTooBig(
      await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, teacher: { model_id: huge } }),
      /^\/teacher\/model_id$/,
      'a stored teacher of 200M parameters',
    );
    assert.equal(await stack.db.job.count(), before, 'nothing was created');

    // A job of ordinary size is accepted and runs.
    const ok = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const done = await finished(stack, ok.body.id);
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body.error));
    assertClean('the events of a succeeded job (backend info included)', await eventsOf(stack, ok.body.id));
  });

  test('a run whose loss turns non-finite fails diverged at its first attempt, registers no model, and says so for a person', async () => {
    const answer = await request(stack.url, 'POST', '/v1/jobs', {
      ...QUICK_JOB,
      teacher: { model: { preset: 'hinton-teacher' }, training: { epochs: 4, learning_rate: 10, optimizer: 'sgd' } },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const job = await finished(stack, answer.body.id);
    assert.equal(job.body.status, 'failed');
    assert.equal(job.body.error.code, 'diverged');
    assert.match(job.body.error.message, /diverged .*loss became (NaN|-?Infinity)/);
    assert.equal(job.body.attempts, 1, 'not retried');
    assert.equal(await stack.db.model.count({ where: { sourceJobId: answer.body.id } }), 0, 'no model was registered');
    const events = await eventsOf(stack, answer.body.id);
    assert.equal(events.filter((e) => e.type === 'status' && (e.data as { status: string }).status === 'running').length, 1, 'one attempt started');
    assertClean('diverged job events', events);
    assertClean('diverged job error', job.body.error);
  });

  test('a failure the worker cannot explain (a stored teacher whose files are gone) reaches clients as a code and a plain message', async () => {
    const gone = await storedModel(stack, 100, `tenants/${stack.keys.a.tenantId}/models/missing`);
    const answer = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, teacher: { model_id: gone } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const job = await finished(stack, answer.body.id);
    assert.equal(job.body.status, 'failed');
    assert.equal(typeof job.body.error.code, 'string');
    assert.ok(job.body.error.message.length > 0);
    assertClean('the job error', job.body.error);
    assertClean('the failed job events', await eventsOf(stack, answer.body.id));
    // The raw error went to the worker's log.
    assert.ok(
      stack.workers[0]!.logs.some((l) => l.msg === 'attempt failed' && l.jobId === answer.body.id),
      'the worker logged the raw error',
    );
  });
});

describe("the training child's hard memory cap", () => {
  let stack: Stack;
  before(async () => {
    // The API's estimate says the job fits; this worker's budget is far smaller (an underestimate, as far as the child can tell).
    stack = await startStack({ workers: 0, env: { WORKER_MEMORY_BUDGET_MB: '4096', JOB_ATTEMPTS: '3' } });
    await stack.startWorker({ WORKER_MEMORY_BUDGET_MB: '256' });
  });
  after(() => stack?.stop());

  test('a child past the budget fails its job memory_limit_exceeded at the first attempt; the worker lives on', async () => {
    const answer = await request(stack.url, 'POST', '/v1/jobs', {
      ...QUICK_JOB,
      dataset: { source: 'builtin:synthetic', options: { samples: 40_000, features: 512, classes: 4 } },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const job = await finished(stack, answer.body.id);
    assert.equal(job.body.status, 'failed');
    assert.equal(job.body.error.code, 'memory_limit_exceeded', JSON.stringify(job.body.error));
    assert.match(job.body.error.message, /256 MiB/);
    assert.equal(job.body.attempts, 1, 'not retried');
    assertClean('the job error', job.body.error);
    assertClean('the failed job events', await eventsOf(stack, answer.body.id));
    const worker = stack.workers[0]!;
    assert.equal(worker.process.exitCode, null, 'the worker process is still running');
    assert.equal(worker.process.signalCode, null);
  });
});
