/**
 * Upload checks are a bounded resource: one API process takes UPLOAD_CHECK_CONCURRENCY uploads at once
 * (a few more wait, UPLOAD_CHECK_QUEUE), and past that answers 503 with Retry-After; each check's child
 * has a memory cap (UPLOAD_CHECK_MEMORY_MB) and a deadline (UPLOAD_CHECK_TIMEOUT_MS), past which the
 * upload is refused naming which, and its files are removed. Small settings, the real server.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../support/http.js';
import { Contract } from '../support/openapi.js';
import { startStack, type Stack } from '../support/stack.js';
import { tinyModel } from '../support/tiny-model.js';

type Part = [field: string, content: Buffer | string, filename: string];

/** Every answer here is checked against openapi.yaml too (status, headers, problem schema). */
const contract = new Contract();

async function post(stack: Stack, path: string, parts: Part[], key = stack.keys.a.key) {
  const form = new FormData();
  for (const [field, content, filename] of parts) form.append(field, new Blob([typeof content === 'string' ? content : new Uint8Array(content)]), filename);
  const response = await fetch(`${stack.url}${path}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  const text = await response.text();
  const answer = {
    status: response.status,
    headers: response.headers,
    text,
    body: (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text,
  };
  contract.checkResponse('POST', path, answer);
  return answer;
}

const csv = (rows = 40) => `f0,f1,label\n${Array.from({ length: rows }, (_, i) => `${i % 5},${i % 3},${i % 2 ? 'p' : 'q'}`).join('\n')}\n`;
/** Refused by the loaders (one class) without storing anything: a cheap probe of whether a slot is free. */
const PROBE: Part[] = [['csv', 'f0,label\n1,x\n2,x\n', 'probe.csv']];

const stored = async (stack: Stack, kind: 'datasets' | 'models') => (await readdir(join(stack.config.ARTIFACT_DIR, kind)).catch(() => [] as string[])).sort();

/** An upload whose body is never finished: it holds its slot until it is aborted (unless it is answered first). */
function heldUpload(stack: Stack): { request: ClientRequest; answered: boolean } {
  const url = new URL(stack.url);
  const held = httpRequest({
    host: url.hostname,
    port: url.port,
    method: 'POST',
    path: '/v1/datasets',
    headers: { authorization: `Bearer ${stack.keys.a.key}`, 'content-type': 'multipart/form-data; boundary=held', 'content-length': String(1024 ** 2) },
  });
  const handle = { request: held, answered: false };
  held.on('error', () => {});
  held.on('response', (response) => {
    handle.answered = true;
    response.resume();
  });
  held.write('--held\r\nContent-Disposition: form-data; name="csv"; filename="slow.csv"\r\nContent-Type: text/csv\r\n\r\nf0,label\n1,x\n');
  return handle;
}

/** Tenant a's held upload, replaced whenever it lost the slot to a probe. */
function holder(stack: Stack): { current: { request: ClientRequest; answered: boolean } } {
  return { current: heldUpload(stack) };
}

/**
 * Probes until one is refused with 503 while `held` holds a slot. A probe that came first takes the slot
 * and the held upload is the one refused: it is held again, and the probe waits a round, so the new
 * upload (a new connection, slower than the probe's kept-alive one) has the head start.
 */
function probeUntilRefused(stack: Stack, held: { current: { request: ClientRequest; answered: boolean } }, what: string) {
  return waitFor(
    what,
    async () => {
      if (held.current.answered) {
        held.current.request.destroy();
        held.current = heldUpload(stack);
        return false;
      }
      const response = await post(stack, '/v1/datasets', PROBE);
      if (response.status !== 503) assert.equal(response.status, 400, `the probe before the slot is taken: ${response.text}`);
      return response.status === 503 && response;
    },
    30_000,
    100,
  );
}

describe('upload checks: a full pool answers 503 with Retry-After', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 0, env: { UPLOAD_CHECK_CONCURRENCY: '1', UPLOAD_CHECK_QUEUE: '0' } });
  });
  after(() => stack.stop());

  test('while one upload holds the only slot, the next is refused at once; once it ends, uploads go through again', async () => {
    const held = holder(stack);
    try {
      const busy = await probeUntilRefused(stack, held, 'an upload to be refused while the slot is held');
      assert.match(busy.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal(busy.body.code, 'uploads_busy');
      assert.equal(busy.headers.get('retry-after'), '5');
      assert.equal(busy.body.retry_after, 5);
      assert.match(
        busy.body.detail,
        /^the server is busy with other uploads: 1 uploads are being received and checked and 0 are waiting \(UPLOAD_CHECK_CONCURRENCY, UPLOAD_CHECK_QUEUE\); retry in 5 s$/,
      );
      // A model upload shares the pool.
      const model = await post(stack, '/v1/models', [['model.json', '{}', 'model.json']]);
      assert.equal(model.status, 503);
      assert.equal(model.body.code, 'uploads_busy');
    } finally {
      held.current.request.destroy();
    }
    const through = await waitFor(
      'an upload to go through once the held one is aborted',
      async () => {
        const response = await post(stack, '/v1/datasets', [['csv', csv(), 'ok.csv']]);
        return response.status !== 503 && response;
      },
      30_000,
      100,
    );
    assert.equal(through.status, 201, through.text);
    const rows = (await stack.db.dataset.findMany({ select: { id: true } })).map((r) => r.id);
    assert.deepEqual(rows, [through.body.id], 'the aborted upload left no row');
    assert.deepEqual(await stored(stack, 'datasets'), rows, 'and no files');
  });
});

describe('upload checks: one tenant holds at most its share of the slots', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 0, env: { UPLOAD_CHECK_CONCURRENCY: '2', UPLOAD_CHECK_QUEUE: '0' } });
  });
  after(() => stack.stop());

  test("while tenant a trickles one upload, a second of a's is refused naming its share, and tenant b's goes through", async () => {
    const held = holder(stack);
    try {
      const busy = await probeUntilRefused(stack, held, 'a second upload of a to be refused while a holds its share');
      assert.equal(busy.body.code, 'uploads_busy');
      assert.equal(busy.headers.get('retry-after'), '5');
      assert.match(
        busy.body.detail,
        /this tenant already has 1 of them being received and checked and 0 waiting, its share of UPLOAD_CHECK_CONCURRENCY and UPLOAD_CHECK_QUEUE/,
      );
      const other = await post(stack, '/v1/datasets', [['csv', csv(), 'b.csv']], stack.keys.b.key);
      assert.equal(other.status, 201, other.text);
      assert.equal(held.current.answered, false, "a's upload still holds its slot");
    } finally {
      held.current.request.destroy();
    }
  });
});

describe('upload checks: a check past its deadline is stopped and the upload refused', () => {
  let stack: Stack;
  before(async () => {
    // No child process starts, parses and answers within a millisecond.
    stack = await startStack({ workers: 0, env: { UPLOAD_CHECK_TIMEOUT_MS: '1' } });
  });
  after(() => stack.stop());

  test('dataset and model uploads answer 413 upload_too_complex (check_timeout) and leave nothing', async () => {
    const files = await tinyModel();
    for (const [path, parts] of [
      ['/v1/datasets', [['csv', csv(), 'a.csv']]],
      [
        '/v1/models',
        [
          ['model.json', files.json, 'model.json'],
          ['weights', files.weights, 'weights.bin'],
        ],
      ],
    ] as Array<[string, Part[]]>) {
      const response = await post(stack, path, parts);
      assert.equal(response.status, 413, response.text);
      assert.equal(response.body.code, 'upload_too_complex');
      assert.equal(response.body.reason, 'check_timeout');
      assert.match(response.body.detail, /took longer than 1 ms \(the server's limit, UPLOAD_CHECK_TIMEOUT_MS\)/);
    }
    assert.equal(await stack.db.dataset.count(), 0);
    assert.equal(await stack.db.model.count(), 0);
    assert.deepEqual([...(await stored(stack, 'datasets')), ...(await stored(stack, 'models'))], []);
  });
});

describe('upload checks: a check past its memory cap is stopped and the upload refused', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 0, env: { UPLOAD_CHECK_MEMORY_MB: '320', MAX_UPLOAD_BYTES: String(64 * 1024 ** 2) } });
  });
  after(() => stack.stop());

  test('a small dataset passes under the cap; 60 KB of gzipped IDX that unpacks to 59 MB of pixels (235 MB as floats) is refused (check_memory)', async () => {
    const small = await post(stack, '/v1/datasets', [['csv', csv(), 'a.csv']]);
    assert.equal(small.status, 201, small.text);

    const n = 75_000;
    const header = (dims: number[]) => {
      const h = Buffer.alloc(4 + 4 * dims.length);
      h[2] = 0x08;
      h[3] = dims.length;
      dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
      return h;
    };
    const pixels = Buffer.alloc(n * 784, 0x80);
    const labels = Buffer.from(Array.from({ length: n }, (_, i) => i % 10));
    const big = await post(stack, '/v1/datasets', [
      ['train_images', gzipSync(Buffer.concat([header([n, 28, 28]), pixels])), 'images.gz'],
      ['train_labels', gzipSync(Buffer.concat([header([n]), labels])), 'labels.gz'],
    ]);
    assert.equal(big.status, 413, big.text);
    assert.equal(big.body.code, 'upload_too_complex');
    assert.equal(big.body.reason, 'check_memory');
    assert.match(big.body.detail, /^checking this dataset needs more than 320 MiB of memory \(the server's limit, UPLOAD_CHECK_MEMORY_MB\)/);
    assert.deepEqual(
      (await stack.db.dataset.findMany({ select: { id: true } })).map((m) => m.id),
      [small.body.id],
    );
    assert.deepEqual(await stored(stack, 'datasets'), [small.body.id]);
  });
});
