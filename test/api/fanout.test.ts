import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { type RunningServer, startServer } from '../../src/api/server.js';
import { followJob, request, setDefaultKey } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

describe('live events across several API processes', () => {
  let stack: Stack;
  let second: RunningServer;
  before(async () => {
    stack = await startStack({ workers: 1 });
    // Another API process on the same Postgres, Redis and queue (in-process here, on its own port).
    second = await startServer(stack.config, pino({ level: 'silent' }));
    setDefaultKey(second.url, stack.keys.a.key);
  });
  after(async () => {
    await second.close();
    await stack.stop();
  });

  test('a job submitted through one API streams live to sockets on both, identically', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    const [one, two] = await Promise.all([
      followJob(stack.wsUrl, created.body.id),
      followJob(second.url.replace(/^http/, 'ws'), created.body.id),
    ]);
    const [closedOne, closedTwo] = await Promise.all([one.closed, two.closed]);
    assert.equal(closedOne.code, 1000);
    assert.equal(closedTwo.code, 1000);
    assert.ok(one.events.length > 5);
    assert.deepEqual(two.events, one.events, 'both processes delivered the same stream');
    assert.equal(one.events.at(-1)!.data.status, 'succeeded');
    // The second process got them through Redis pub/sub as they happened, not by re-reading Postgres.
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    const live = Number(/^distill_event_delivery_lag_seconds_count\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    assert.ok(live >= one.events.length / 2, `${live} of ${one.events.length} events were delivered live by the second API`);
    const fromSecond = await request(second.url, 'GET', `/v1/jobs/${created.body.id}`);
    assert.equal(fromSecond.body.status, 'succeeded');
  });
});
