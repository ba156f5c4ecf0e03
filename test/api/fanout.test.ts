import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { type RunningServer, startServer } from '../../src/api/server.js';
import { appendEvents } from '../../src/jobs/events.js';
import { channelPrefixFor } from '../../src/queue/queue.js';
import { followJob, request, setDefaultKey } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack, stopProcess } from '../support/stack.js';

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
    const [one, two] = await Promise.all([followJob(stack.wsUrl, created.body.id), followJob(second.url.replace(/^http/, 'ws'), created.body.id)]);
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

  test('an event pub/sub never carried still reaches every follower: the hub re-reads a quiet job from Postgres', async () => {
    // A job no worker takes: its stream is written here by hand.
    await stopProcess(stack.workers[0]!);
    const created = await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'quiet' });
    const id = created.body.id as string;
    const [early, late] = [await followJob(stack.wsUrl, id), await followJob(stack.wsUrl, id, 1)];
    await early.waitForEvent((e) => e.seq === 1);
    // Stored but not published (no Redis given): as if the message was lost.
    const prefix = channelPrefixFor(stack.config.QUEUE_NAME);
    await appendEvents(stack.db, undefined, prefix, id, [{ type: 'log', data: { level: 'info', message: 'not published' } }]);
    const startedAt = Date.now();
    for (const follower of [early, late]) await follower.waitForEvent((e) => e.seq === 2, 20_000);
    console.log(`the unpublished event arrived after ${Date.now() - startedAt} ms`);
    await appendEvents(stack.db, undefined, prefix, id, [{ type: 'status', data: { status: 'cancelled' } }], {
      update: { status: 'cancelled', finishedAt: new Date() },
    });
    for (const follower of [early, late]) assert.equal((await follower.closed).code, 1000, 'the unpublished terminal event ended the stream');
    assert.deepEqual(
      early.events.map((e) => e.seq),
      [1, 2, 3],
    );
    assert.deepEqual(
      late.events.map((e) => e.seq),
      [2, 3],
    );
  });
});
