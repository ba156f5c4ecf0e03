import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { followJob, request, waitFor } from '../support/http.js';
import { cancellableJob } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

/** The value of one sample line, e.g. `distill_jobs{status="running"}`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('GET /metrics during a job', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 1 });
  });
  after(() => stack.stop());

  test('shows the API, the worker, jobs, queue, sockets, delivery lag and tfjs memory', async () => {
    // Still training after a few 5-second publishing rounds of the worker, even on a fast machine (a short
    // job could end first, its gauges gone); it is cancelled below.
    const created = await request(stack.url, 'POST', '/v1/jobs', cancellableJob());
    const ws = await followJob(stack.wsUrl, created.body.id);
    await ws.waitForEvent((e) => e.type === 'metrics' && e.data.phase === 'distilling', 120_000);

    // Workers publish every 5 s: wait a few rounds, and say what was missing if it never comes.
    let seen = 'no answer yet';
    const during = await waitFor(
      'worker metrics to be published',
      async () => {
        const response = await fetch(`${stack.url}/metrics`);
        const text = await response.text();
        const tensors = sample(text, 'distill_tfjs_tensors');
        const teacherPhase = sample(text, 'distill_phase_duration_seconds_count', { phase: 'training_teacher' });
        seen = `HTTP ${response.status}, tensors ${tensors}, training_teacher durations ${teacherPhase}, worker processes ${text.match(/process_resident_memory_bytes\{process="worker-\d+"\}/g)?.length ?? 0}`;
        return tensors !== undefined && teacherPhase ? text : undefined;
      },
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${seen}`);
    });

    const job = (await request(stack.url, 'GET', `/v1/jobs/${created.body.id}`)).body;
    assert.ok(
      (sample(during, 'distill_jobs', { status: 'running' }) ?? 0) >= 1,
      `jobs by status: ${during
        .split('\n')
        .filter((l) => l.startsWith('distill_jobs{'))
        .join('; ')}; the job is ${job.status} (attempts ${job.attempts}); worker: ${stack.workers[0]!.logs.slice(-6)
        .map((l) => l.msg)
        .join(' | ')}`,
    );
    assert.notEqual(sample(during, 'distill_queue_jobs', { state: 'active' }), undefined, 'queue depth by state');
    assert.ok((sample(during, 'distill_ws_connections') ?? 0) >= 1, 'open sockets');
    assert.notEqual(sample(during, 'distill_ws_send_buffer_bytes'), undefined, 'send buffers');
    assert.ok((sample(during, 'distill_event_delivery_lag_seconds_count') ?? 0) > 0, 'live events were timed');
    assert.ok((sample(during, 'distill_tfjs_tensors', { job: created.body.id }) ?? 0) > 0, 'the training child reports its tensors');
    assert.ok((sample(during, 'distill_tfjs_bytes', { job: created.body.id }) ?? 0) > 0);
    assert.ok((sample(during, 'distill_training_samples_per_second', { model: 'student' }) ?? 0) > 0, 'training speed');
    assert.ok((sample(during, 'distill_worker_active_jobs') ?? 0) >= 1);
    assert.ok(
      (sample(during, 'distill_http_request_duration_seconds_count', { route: '/v1/jobs', method: 'POST', status: '201' }) ?? 0) >= 1,
      'HTTP latency by route and status',
    );
    assert.match(during, /process_resident_memory_bytes\{process="api-\d+"\}/, 'API process metrics');
    assert.match(during, /process_resident_memory_bytes\{process="worker-\d+"\}/, 'worker process metrics');

    await request(stack.url, 'POST', `/v1/jobs/${created.body.id}/cancel`);
    await ws.closed;
    const afterwards = await waitFor(
      'the attempt outcome',
      async () => {
        const response = await fetch(`${stack.url}/metrics`);
        const text = await response.text();
        seen = `HTTP ${response.status}, attempts ${
          text
            .split('\n')
            .filter((l) => l.startsWith('distill_attempts_total'))
            .join('; ') || 'none'
        }, worker processes ${text.match(/process_resident_memory_bytes\{process="worker-\d+"\}/g)?.length ?? 0}`;
        return (sample(text, 'distill_attempts_total', { outcome: 'cancel' }) ?? 0) >= 1 ? text : undefined;
      },
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; last seen: ${seen}; worker log: ${stack.workers[0]!.logs.slice(-8)
          .map((l) => l.msg)
          .join(' | ')}`,
      );
    });
    assert.equal(sample(afterwards, 'distill_jobs', { status: 'cancelled' }), 1);
  });
});
