/**
 * Property-based fuzz (fast-check, seeded, bounded) of the WebSocket protocol: random and malformed
 * frames on `/v1/events` and on the per-job socket — near-valid messages with one field mutated, huge and
 * non-finite numbers, wrong types, unknown fields, deep nesting, random text, binary frames, text frames
 * that are not UTF-8, frames over the size limit, bursts.
 *
 * Every frame gets exactly one answer: a reply (an `error` naming what is wrong, or `subscribed` /
 * `unsubscribed` for what is valid, judged here independently of the server's code) or a clean close
 * with a documented code; tenant b's job is never followed; no read of Postgres fails, so no follower is
 * left retrying, and once the fuzzed sockets close nothing they started is still followed; a well-behaved
 * client on another socket keeps getting its job's live events throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { appendEvents } from '../../src/jobs/events.js';
import { channelPrefixFor } from '../../src/queue/queue.js';
import { request, waitFor } from '../support/http.js';
import { QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';
import { upgrade, type Upgrade } from '../support/ws.js';

const SEED = 20_261_205;
const FRAMES = 400;
const PER_JOB_FRAMES = 120;
const BURST = 200;
/** Every this many frames, the well-behaved client must receive a fresh live event. */
const CHECK_EVERY = 40;
const MAX_SEQ = 2_147_483_647;
const MAX_FRAME = 64 * 1024;
const ANSWER_DEADLINE_MS = 30_000;

type Open = Extract<Upgrade, { kind: 'open' }>;
/** What a frame is, as sent: text (a string, or raw bytes in a text frame), or binary. */
interface Frame {
  kind: 'text' | 'bytes-as-text' | 'binary';
  data: string | Buffer;
}

describe('fuzz: WebSocket protocol messages never crash, stall or misroute the server', () => {
  let stack: Stack;
  let jobA: string;
  let jobB: string;
  let good: Open;
  let liveSeq = 1;
  const failures: string[] = [];
  const bearerA = { authorization: `Bearer ${'' as string}` };

  before(async () => {
    // A budget the fuzz cannot reach (rate limits have their own test), and no overload shedding on a busy machine.
    stack = await startStack({ workers: 0, env: { RATE_LIMIT_PER_MINUTE: '1000000' } });
    bearerA.authorization = `Bearer ${stack.keys.a.key}`;
    jobA = (await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB)).body.id;
    jobB = (await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB, { authorization: `Bearer ${stack.keys.b.key}` })).body.id;
    good = await openSocket(`${stack.wsUrl}/v1/events`);
    good.send({ type: 'subscribe', job_id: jobA, after: 0 });
    await good.waitFor((m) => m.object === 'event' && m.seq === 1);
  });
  after(async () => {
    good?.socket.close();
    await stack?.stop();
  });

  async function openSocket(url: string): Promise<Open> {
    const answer = await upgrade(url, bearerA);
    assert.equal(answer.kind, 'open', url);
    return answer as Open;
  }

  /** A live event on job a: the well-behaved client must get it (the fuzz has not stalled or broken the API). */
  async function wellBehavedClientServed(where: string): Promise<void> {
    liveSeq += 1;
    await appendEvents(stack.db, stack.redis, channelPrefixFor(stack.config.QUEUE_NAME), jobA, [{ type: 'log', data: { message: `live ${liveSeq}` } }]);
    const seq = liveSeq;
    await good
      .waitFor((m) => m.object === 'event' && m.job_id === jobA && m.seq === seq, ANSWER_DEADLINE_MS)
      .catch(() => failures.push(`${where}: the well-behaved client did not get live event ${seq}`));
  }

  const readFailures = () => metric(stack.url, 'distill_ws_event_read_failures_total');

  test(`${FRAMES} random frames on /v1/events (seed ${SEED}): each gets one sound reply or a clean close`, async () => {
    failures.length = 0; // each test reports its own
    let socket = await openSocket(`${stack.wsUrl}/v1/events`);
    const frames = fc.sample(frameArbitrary(jobA, jobB), { numRuns: FRAMES, seed: SEED });
    for (const [i, frame] of frames.entries()) {
      const marker = `marker-${i}`;
      const from = socket.messages.length;
      send(socket, frame);
      if (socket.socket.readyState === socket.socket.OPEN) socket.send({ type: 'unsubscribe', job_id: marker });
      const outcome = await Promise.race([
        socket
          .waitFor((m) => m.type === 'unsubscribed' && m.job_id === marker, ANSWER_DEADLINE_MS)
          .then(
            () => 'answered' as const,
            () => 'silent' as const,
          ),
        socket.closed.then((c) => c),
      ]);
      const replies = socket.messages.slice(from).filter((m) => m.object !== 'event' && m.job_id !== marker);
      const what = `frame ${i} (${show(frame)})`;
      const expectClose = closesWith(frame);
      if (outcome === 'silent') failures.push(`${what}: no answer within ${ANSWER_DEADLINE_MS} ms`);
      else if (typeof outcome === 'object') {
        if (outcome.code !== expectClose) failures.push(`${what}: closed with ${outcome.code} ${outcome.reason}, expected ${expectClose ?? 'no close'}`);
        socket = await openSocket(`${stack.wsUrl}/v1/events`);
      } else if (expectClose) failures.push(`${what}: answered instead of closing with ${expectClose}`);
      else failures.push(...judge(what, frame, replies, jobA));
      for (const m of socket.messages.slice(from))
        if (m.job_id === jobB && (m.object === 'event' || m.type === 'subscribed'))
          failures.push(`${what}: b's job reached a's socket: ${JSON.stringify(m).slice(0, 200)}`);
      if (i % CHECK_EVERY === CHECK_EVERY - 1) await wellBehavedClientServed(`after frame ${i}`);
    }
    socket.socket.close();
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
  });

  test(`a burst of ${BURST} frames sent at once is answered in full and in order, the socket open`, async () => {
    failures.length = 0; // each test reports its own
    const socket = await openSocket(`${stack.wsUrl}/v1/events`);
    const frames = fc.sample(
      frameArbitrary(jobA, jobB).filter((f) => closesWith(f) === undefined),
      { numRuns: BURST, seed: SEED + 1 },
    );
    for (const frame of frames) send(socket, frame);
    socket.send({ type: 'unsubscribe', job_id: 'end-of-burst' });
    await socket.waitFor((m) => m.job_id === 'end-of-burst', 120_000);
    const replies = socket.messages.filter((m) => m.object !== 'event');
    assert.equal(replies.length, BURST + 1, 'one reply per frame');
    for (const [i, frame] of frames.entries()) failures.push(...judge(`burst frame ${i} (${show(frame)})`, frame, [replies[i]], jobA));
    assert.equal(socket.socket.readyState, socket.socket.OPEN);
    await wellBehavedClientServed('after the burst');
    socket.socket.close();
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
  });

  test(`${PER_JOB_FRAMES} random frames on the per-job socket: ignored (only events come back) or a clean close`, async () => {
    failures.length = 0; // each test reports its own
    let socket = await openSocket(`${stack.wsUrl}/v1/jobs/${jobA}/events?after=${liveSeq}`);
    const frames = fc.sample(frameArbitrary(jobA, jobB), { numRuns: PER_JOB_FRAMES, seed: SEED + 2 });
    for (const [i, frame] of frames.entries()) {
      send(socket, frame);
      const expectClose = closesWith(frame);
      if (expectClose) {
        const closed = await Promise.race([socket.closed, new Promise<undefined>((r) => void setTimeout(r, ANSWER_DEADLINE_MS))]);
        if (closed?.code !== expectClose) failures.push(`per-job frame ${i} (${show(frame)}): closed with ${closed?.code}, expected ${expectClose}`);
        socket = await openSocket(`${stack.wsUrl}/v1/jobs/${jobA}/events?after=${liveSeq}`);
      }
      if (i % CHECK_EVERY === CHECK_EVERY - 1) {
        await wellBehavedClientServed(`after per-job frame ${i}`);
        // The fuzzed socket itself still streams.
        const seq = liveSeq;
        await socket.waitFor((m) => m.seq === seq, ANSWER_DEADLINE_MS).catch(() => failures.push(`per-job socket: live event ${seq} not received`));
      }
    }
    if (!socket.messages.every((m) => m.object === 'event' && m.job_id === jobA))
      failures.push("the per-job socket sent something other than its job's events");
    socket.socket.close();
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures`);
  });

  test('afterwards: no read of Postgres failed, nothing the fuzz subscribed is still followed, the API is ready', async () => {
    failures.length = 0; // each test reports its own
    assert.equal(await readFailures(), 0, 'no follower read failed (none is retrying)');
    // Only the well-behaved client's job is followed once the fuzzed sockets have closed.
    await waitFor('the fuzzed sockets to close', async () => (await metric(stack.url, 'distill_ws_connections')) === 1, 30_000, 200);
    await waitFor(
      "the fuzzed sockets' followers to stop",
      async () => {
        const followed = await metric(stack.url, 'distill_ws_followed_jobs');
        return followed === 1 || (followed > 1 ? false : assert.fail(`${followed} jobs followed`));
      },
      30_000,
      200,
    ).catch(async (err) => assert.fail(`${(err as Error).message}: ${await metric(stack.url, 'distill_ws_followed_jobs')} jobs followed`));
    await wellBehavedClientServed('at the end');
    assert.deepEqual(failures, []);
    assert.equal((await request(stack.url, 'GET', '/readyz')).status, 200);
  });
});

// ------------------------------------------------------------------------------------------ the oracle

/** The close a frame must cause, if any: 1009 over the frame limit, 1007 for a text frame that is not UTF-8. */
function closesWith(frame: Frame): number | undefined {
  const bytes = typeof frame.data === 'string' ? Buffer.byteLength(frame.data) : frame.data.length;
  if (bytes > MAX_FRAME) return 1009;
  if (frame.kind === 'bytes-as-text' && !isUtf8(frame.data as Buffer)) return 1007;
  return undefined;
}

const isUtf8 = (bytes: Buffer) => Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);

/** What the protocol says of a message, written here from the documented schemas, not from the server's code. */
function expected(frame: Frame): { valid: boolean; json: boolean; message?: Record<string, unknown> } {
  if (frame.kind === 'binary') return { valid: false, json: true };
  const text = typeof frame.data === 'string' ? frame.data : frame.data.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { valid: false, json: false };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { valid: false, json: true };
  const m = value as Record<string, unknown>;
  const allowed = m.type === 'subscribe' ? ['type', 'job_id', 'after'] : m.type === 'unsubscribe' ? ['type', 'job_id'] : undefined;
  if (!allowed || Object.keys(m).some((k) => !allowed.includes(k))) return { valid: false, json: true };
  // Lengths in characters (code points), as JSON Schema counts them.
  if (typeof m.job_id !== 'string' || [...m.job_id].length < 1 || [...m.job_id].length > 64) return { valid: false, json: true };
  if ('after' in m && !(typeof m.after === 'number' && Number.isInteger(m.after) && m.after >= 0 && m.after <= MAX_SEQ)) return { valid: false, json: true };
  return { valid: true, json: true, message: m };
}

const ERROR_CODES = ['invalid_json', 'invalid_message', 'not_found', 'too_many_subscriptions'];

function judge(what: string, frame: Frame, replies: any[], jobA: string): string[] {
  if (replies.length !== 1 || !replies[0]) return [`${what}: ${replies.length} replies: ${JSON.stringify(replies).slice(0, 300)}`];
  const reply = replies[0];
  const { valid, json, message } = expected(frame);
  const said = JSON.stringify(reply).slice(0, 300);
  if (reply.type === 'error') {
    if (!ERROR_CODES.includes(reply.code)) return [`${what}: unknown error code: ${said}`];
    if (typeof reply.message !== 'string' || reply.message.length === 0 || reply.message.length > 500) return [`${what}: no readable message: ${said}`];
    if (/\bat .+\.(ts|js):\d+|Prisma|SELECT |postgres/i.test(reply.message)) return [`${what}: internals in a refusal: ${said}`];
    if (valid && reply.code !== 'not_found') return [`${what}: a valid message refused: ${said}`];
    if (!valid && reply.code !== (json ? 'invalid_message' : 'invalid_json'))
      return [`${what}: expected ${json ? 'invalid_message' : 'invalid_json'}: ${said}`];
    if (reply.code === 'invalid_message' && typeof reply.field !== 'string' && frame.kind !== 'binary') return [`${what}: the refusal names no field: ${said}`];
    return [];
  }
  if (!valid) return [`${what}: an invalid message was accepted: ${said}`];
  const sent = (message ?? {}) as { type?: string; job_id?: string; after?: number };
  if (reply.type === 'subscribed' && sent.type === 'subscribe' && reply.job_id === jobA && reply.after === (sent.after ?? 0)) return [];
  if (reply.type === 'unsubscribed' && sent.type === 'unsubscribe' && reply.job_id === sent.job_id) return [];
  return [`${what}: an unexpected reply: ${said}`];
}

// ------------------------------------------------------------------------------------------ arbitraries

const HUGE = [2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, -1, -0, 0.5, 1.5, Number.MAX_VALUE, Number.MIN_VALUE, -(2 ** 31)];
/** Numbers that only raw JSON text can carry: parsed, they are Infinity, or lose their precision. */
const RAW_NUMBERS = ['1e400', '-1e400', '2147483648', '2147483647.0', '9007199254740993', '1E3', '-0', '0.0', '00', '1e-400', '123456789012345678901234567890'];
const NASTY = ['', ' ', '\u0000', 'job_\u0000', '\ud800', '🙂', '__proto__', 'constructor', "' OR '1'='1", 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(5000)];

function frameArbitrary(jobA: string, jobB: string): fc.Arbitrary<Frame> {
  const jobId = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(jobA, jobB, 'job_00000000000000000000000000', jobA.toUpperCase()) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
    { weight: 2, arbitrary: fc.string({ maxLength: 80 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
  const afterValue = fc.oneof(
    { weight: 3, arbitrary: fc.nat({ max: 10 }) },
    { weight: 3, arbitrary: fc.constantFrom(...HUGE) },
    { weight: 2, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n }).map((n) => String(n)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
  const type = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('subscribe', 'unsubscribe') },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('SUBSCRIBE', 'subscribe ', 'follow', '', 'error', 'subscribed'), fc.jsonValue({ maxDepth: 1 })) },
  );
  const structured = fc
    .record(
      {
        type,
        job_id: jobId,
        after: afterValue,
        extra: fc.tuple(
          fc.oneof(fc.constantFrom('tenant_id', 'admin', 'seq', '__proto__', 'constructor'), fc.string({ maxLength: 8 })),
          fc.jsonValue({ maxDepth: 1 }),
        ),
      },
      { requiredKeys: [] },
    )
    .map(({ extra, ...fields }) => {
      const value: Record<string, unknown> = { ...fields };
      if (extra) Object.defineProperty(value, extra[0], { value: extra[1], enumerable: true, configurable: true, writable: true });
      return value;
    });
  // Near-valid: a correct message with exactly one thing wrong (or nothing).
  const valid = fc.oneof(
    fc.record({ type: fc.constant('subscribe'), job_id: fc.constant(jobA), after: fc.nat({ max: MAX_SEQ }) }, { requiredKeys: ['type', 'job_id'] }),
    fc.record({ type: fc.constant('unsubscribe'), job_id: fc.string({ minLength: 1, maxLength: 64 }) }),
  );
  const text = (value: unknown): Frame => ({ kind: 'text', data: JSON.stringify(value) });
  return fc.oneof(
    { weight: 8, arbitrary: structured.map(text) },
    { weight: 3, arbitrary: valid.map(text) },
    { weight: 2, arbitrary: fc.jsonValue().map(text) },
    // Raw text: numbers JSON.stringify cannot write, duplicate keys, deep nesting, garbage.
    {
      weight: 3,
      arbitrary: fc
        .oneof(
          fc
            .tuple(fc.constantFrom('subscribe', 'unsubscribe'), fc.constantFrom(...RAW_NUMBERS))
            .map(([t, n]) => `{"type":"${t}","job_id":"${jobA}","after":${n}}`),
          fc.constantFrom(
            `{"type":"subscribe","job_id":"${jobB}","job_id":"${jobA}"}`,
            `{"type":"subscribe","job_id":"${jobA}","type":"unsubscribe"}`,
            `{"type":"subscribe","job_id":"${jobA}","after":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
            `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
            `{"type":"subscribe","job_id":"${jobA}",${Array.from({ length: 3000 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
            `{"type":"subscribe","job_id":"${jobA}","__proto__":{"after":5}}`,
            `{"type":"subscribe","job_id":"${jobA}"} trailing`,
            '\ufeff{"type":"unsubscribe","job_id":"x"}',
            '',
            ' ',
            'null',
            'true',
            '0',
            '"subscribe"',
            '[]',
            '{}',
            '{',
            '}',
            '{"type":"subscribe"',
            'NaN',
            'Infinity',
          ),
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 200 }),
        )
        .map((data): Frame => ({ kind: 'text', data })),
    },
    // Frames: binary, bytes that may not be UTF-8 sent as text, over the 64 KiB limit.
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b): Frame => ({ kind: 'binary', data: Buffer.from(b) })) },
    { weight: 1, arbitrary: fc.constant<Frame>({ kind: 'binary', data: Buffer.from(JSON.stringify({ type: 'unsubscribe', job_id: 'bin' })) }) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 100 }).map((b): Frame => ({ kind: 'bytes-as-text', data: Buffer.from([...b, 0xff]) })) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: MAX_FRAME + 1, max: MAX_FRAME + 4096 })
        .map((n): Frame => ({ kind: 'text', data: `{"type":"subscribe","job_id":"${'x'.repeat(n)}"}` })),
    },
    { weight: 1, arbitrary: fc.integer({ min: MAX_FRAME + 1, max: MAX_FRAME * 2 }).map((n): Frame => ({ kind: 'binary', data: Buffer.alloc(n, 0x7b) })) },
  );
}

// ------------------------------------------------------------------------------------------ transport

function send(socket: Open, frame: Frame): void {
  if (socket.socket.readyState !== socket.socket.OPEN) return;
  if (frame.kind === 'binary') socket.socket.send(frame.data, { binary: true });
  else socket.socket.send(frame.data, { binary: false });
}

function show(frame: Frame): string {
  const data = typeof frame.data === 'string' ? frame.data : `<${frame.data.length} bytes>`;
  return `${frame.kind} ${data.length > 120 ? `${data.slice(0, 120)}… (${data.length})` : data}`;
}

async function metric(url: string, name: string): Promise<number> {
  const text = (await request(url, 'GET', '/metrics')).body as string;
  // `name{process="api-…"} 3`: summed over the label sets (one here: this API process).
  const values = text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  assert.ok(values.length > 0, `${name} is in /metrics`);
  return values.reduce((sum, v) => sum + v, 0);
}
