// A client that stops reading must not hold the server's memory hostage, nor lose what matters: above
// 256 KiB of unsent backlog its live metrics samples are skipped (never other events), above 4 MiB it
// is closed with 1013 and told where to resume; a client that keeps up beside it is not affected; and a
// client resuming after megabytes of events gets them all, paced, rather than another 1013.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Socket } from 'node:net';
import { appendEvents, type JobEventObject } from '../../src/jobs/events.js';
import { channelPrefixFor } from '../../src/queue/queue.js';
import { followJob, request } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

const LOG_EVENTS = 400;
const METRICS_EVERY = 10;
const PAYLOAD = 'x'.repeat(40 * 1024);

describe('a WebSocket client too slow to read', () => {
  let stack: Stack;
  before(async () => {
    // No worker: the job stays queued and its stream is written here, as fast as Postgres takes it.
    stack = await startStack({ workers: 0 });
  });
  after(() => stack?.stop());

  test('gets metrics coalesced past 256 KiB of backlog, then 1013 with after=N past 4 MiB, and resumes from N with nothing lost', async () => {
    const id = (await request(stack.url, 'POST', '/v1/jobs', { ...QUICK_JOB, name: 'slow reader' })).body.id as string;
    const [slow, fast] = [await followJob(stack.wsUrl, id), await followJob(stack.wsUrl, id)];
    await slow.waitForEvent((e) => e.seq === 1);
    // Stop reading: what the server sends piles up in the kernel's buffers, then in the server's.
    const slowSocket = (slow.socket as unknown as { _socket: Socket })._socket;
    slowSocket.pause();

    const prefix = channelPrefixFor(stack.config.QUEUE_NAME);
    const appended: { seq: number; type: string }[] = [{ seq: 1, type: 'status' }];
    for (let i = 1; i <= LOG_EVENTS; i++) {
      const events: Parameters<typeof appendEvents>[4] = [{ type: 'log', data: { level: 'info', message: `line ${i}`, padding: PAYLOAD } }];
      if (i % METRICS_EVERY === 0) events.push({ type: 'metrics', data: { phase: 'distilling', epoch: 1, batch: i, loss: 1 / i } });
      for (const stored of await appendEvents(stack.db, stack.redis, prefix, id, events)) appended.push({ seq: stored.seq, type: stored.type });
    }
    // The stream ends on an event that is never coalesced, so every reader must get it.
    for (const stored of await appendEvents(stack.db, stack.redis, prefix, id, [{ type: 'log', data: { level: 'info', message: 'the end' } }]))
      appended.push({ seq: stored.seq, type: stored.type });
    const last = appended.at(-1)!.seq;

    // The client that kept up has everything, in order.
    await fast.waitForEvent((e) => e.seq === last, 60_000);
    assert.deepEqual(
      fast.events.map((e) => e.seq),
      appended.map((e) => e.seq),
      'the fast client missed nothing',
    );

    slowSocket.resume();
    const closed = await slow.closed;
    assert.equal(closed.code, 1013, `closed with ${closed.code} ${closed.reason}`);
    const resumeAt = Number(/after=(\d+)/.exec(closed.reason)?.[1]);
    assert.ok(resumeAt > 1 && resumeAt < last, `the reason names where to resume: ${closed.reason}`);

    const got = slow.events.map((e) => e.seq);
    assert.deepEqual(
      got,
      [...got].sort((a, b) => a - b),
      'in order',
    );
    assert.equal(new Set(got).size, got.length, 'no duplicate');
    const sent = new Set(got);
    const upTo = appended.filter((e) => e.seq <= resumeAt);
    const lostOthers = upTo.filter((e) => e.type !== 'metrics' && !sent.has(e.seq));
    assert.deepEqual(lostOthers, [], 'every event but metrics samples up to the resume point was sent');
    const skippedMetrics = upTo.filter((e) => e.type === 'metrics' && !sent.has(e.seq));
    assert.ok(skippedMetrics.length > 0, 'metrics samples were coalesced while the backlog was large');
    console.log(
      `slow client: ${got.length} of ${upTo.length} events up to seq ${resumeAt} (${skippedMetrics.length} metrics skipped), then 1013 "${closed.reason}"`,
    );

    // Reconnecting where it was told, it gets the rest: every event after N, metrics included, read back
    // from Postgres at the pace the client takes them (megabytes of them: no 1013 this time).
    const resumed = await followJob(stack.wsUrl, id, resumeAt);
    await resumed.waitForEvent((e: JobEventObject) => e.seq === last, 60_000);
    assert.deepEqual(
      resumed.events.map((e) => e.seq),
      appended.filter((e) => e.seq > resumeAt).map((e) => e.seq),
    );
    resumed.socket.close();
    fast.socket.close();
  });
});
