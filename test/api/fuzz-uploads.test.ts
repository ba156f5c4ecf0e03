/**
 * Property-based fuzz (fast-check, seeded, bounded) of multipart uploads to /v1/datasets and /v1/models:
 * random form fields, file names and part counts; IDX files with truncated or garbled headers; CSVs with
 * odd delimiters, encodings, NUL bytes and huge fields; model.json files bent out of shape; bodies cut
 * short or garbled. The API never answers a 5xx, every refusal is a short problem+json, and nothing it
 * refused is left stored (every stored folder has its row, every row its folder).
 *
 * Failures are collected, not thrown at the first one, so one run reports every kind it found.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { startStack, type Stack } from '../support/stack.js';
import { tinyModel } from '../support/tiny-model.js';

const SEED = 20_261_205;
const RUNS = 150;
const MAX_UPLOAD_BYTES = 1024 ** 2;

interface Part {
  name: string;
  filename?: string;
  content: Buffer;
}
interface Upload {
  path: '/v1/datasets' | '/v1/models';
  parts: Part[];
  /** What happens to the encoded body: sent as is, cut short, bytes overwritten, or the boundary spelt wrong. */
  damage: { kind: 'none' } | { kind: 'truncate'; at: number } | { kind: 'garble'; at: number; bytes: number[] } | { kind: 'boundary'; header: string };
}
interface Failure {
  upload: string;
  status: number;
  why: string;
  answer: string;
}

describe('fuzz: random and malformed multipart uploads never yield a 5xx nor leave a refused upload stored', () => {
  let stack: Stack;
  let tiny: { json: string; weights: Buffer };
  const failures: Failure[] = [];
  const statuses = new Map<number, number>();

  before(async () => {
    tiny = await tinyModel();
    stack = await startStack({ workers: 0, env: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MAX_CLASSES: '20' } });
  });
  after(() => stack?.stop());

  test(`${RUNS} random uploads (seed ${SEED}): no 5xx, every refusal a short problem+json`, async () => {
    const url = new URL(stack.url);
    await fc.assert(
      fc.asyncProperty(uploadArbitrary(tiny), async (upload) => {
        const { body, contentType } = encode(upload);
        let answer: { status: number; text: string; type: string };
        try {
          answer = await send({ hostname: url.hostname, port: Number(url.port) }, upload.path, body, contentType, stack.keys.a.key);
        } catch (err) {
          failures.push({ upload: describeUpload(upload), status: 0, why: `no answer: ${(err as Error).message}`, answer: '' });
          return;
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const fail = (why: string) => void failures.push({ upload: describeUpload(upload), status: answer.status, why, answer: answer.text.slice(0, 300) });
        if (answer.status >= 500) return fail(`status ${answer.status}`);
        if (answer.status < 400) return;
        if (!/^application\/problem\+json/.test(answer.type)) return fail(`a ${answer.status} that is not problem+json`);
        const problem = JSON.parse(answer.text) as { code?: unknown; status?: unknown; detail?: unknown };
        if (typeof problem.code !== 'string' || problem.status !== answer.status) return fail('a problem without its code or status');
        if (typeof problem.detail !== 'string' || problem.detail.length > 600) return fail(`a detail of ${String(problem.detail).length} characters`);
        if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(problem.detail)) return fail('raw bytes in the detail');
        if (/"stack"|\bat .+\.(ts|js):\d+|Prisma|postgres/i.test(answer.text)) return fail('internals in a refusal');
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seen = [...statuses.entries()]
      .sort(([x], [y]) => x - y)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    for (const status of [201, 400, 413]) assert.ok(statuses.has(status), `status ${status} was reached (${seen})`);
    assert.deepEqual(report(failures), [], `failures among ${RUNS} uploads (statuses: ${seen})`);
  });

  test('nothing refused was left stored: every stored folder has its row and every row its folder', async () => {
    for (const [kind, rows] of [
      ['datasets', await stack.db.dataset.findMany({ select: { id: true } })],
      ['models', await stack.db.model.findMany({ select: { id: true } })],
    ] as const) {
      const folders = (await readdir(join(stack.config.ARTIFACT_DIR, kind)).catch(() => [] as string[])).sort();
      assert.deepEqual(folders, rows.map((r) => r.id).sort(), kind);
    }
  });
});

/** The shortest upload of each kind of failure. */
function report(failures: Failure[]): Failure[] {
  const byKind = new Map<string, Failure>();
  for (const f of failures) {
    const kind = `${f.status} ${f.why}`;
    const seen = byKind.get(kind);
    if (!seen || f.upload.length < seen.upload.length) byKind.set(kind, f);
  }
  return [...byKind.values()];
}

function describeUpload(u: Upload): string {
  const parts = u.parts.map(
    (p) => `${p.name}${p.filename === undefined ? '' : `[${p.filename}]`}=${p.content.length}B:${JSON.stringify(p.content.subarray(0, 24).toString('latin1'))}`,
  );
  return `${u.path} ${JSON.stringify(u.damage)} ${parts.join(' ')}`;
}

// ------------------------------------------------------------------------------------------ arbitraries

const DATASET_FIELDS = ['train_images', 'train_labels', 'test_images', 'test_labels', 'csv', 'name', 'format', 'label_column'];
const MODEL_FIELDS = ['model.json', 'model', 'weights', 'name'];

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const oddText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '.', '..', '../../etc/passwd', 'a\u0000b', 'x'.repeat(300), 'model.json', 'weights.bin', 'ünïcødé.csv', '\ud800', 'con', 'a/b\\c'),
);

/** An IDX file whose header and data may disagree, garbled, of any element type, maybe gzipped. */
const idxArbitrary = fc
  .record({
    type: fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0x42),
    dims: fc.array(fc.oneof(fc.nat({ max: 40 }), fc.constantFrom(0, 1, 0xffffffff, 2 ** 31)), { minLength: 0, maxLength: 6 }),
    data: bytes(2000),
    magic: fc.constantFrom([0, 0], [0, 0], [0, 1], [0x1f, 0x8b]),
    cut: fc.option(fc.nat({ max: 40 })),
    gzip: fc.boolean(),
  })
  .map(({ type, dims, data, magic, cut, gzip }) => {
    const header = Buffer.alloc(4 + 4 * dims.length);
    header[0] = magic[0]!;
    header[1] = magic[1]!;
    header[2] = type;
    header[3] = dims.length;
    dims.forEach((d, i) => header.writeUInt32BE(d >>> 0, 4 + 4 * i));
    let file = Buffer.concat([header, data]);
    if (cut !== null) file = file.subarray(0, cut);
    return gzip ? gzipSync(file) : file;
  });

/** A consistent IDX pair (often accepted), with labels that may claim many classes. */
const idxPairArbitrary = fc
  .record({
    n: fc.integer({ min: 2, max: 30 }),
    side: fc.integer({ min: 1, max: 6 }),
    classes: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(21, 300, 2_000_000)),
    seed: fc.nat(),
  })
  .map(({ n, side, classes, seed }) => {
    const images = Buffer.alloc(16 + n * side * side);
    images[2] = 0x08;
    images[3] = 3;
    [n, side, side].forEach((d, i) => images.writeUInt32BE(d, 4 + 4 * i));
    for (let i = 16; i < images.length; i++) images[i] = (i * 7 + seed) % 256;
    const labels = Buffer.alloc(8 + 4 * n);
    labels[2] = 0x0c;
    labels[3] = 1;
    labels.writeUInt32BE(n, 4);
    for (let i = 0; i < n; i++) labels.writeInt32BE(i === n - 1 ? classes - 1 : (i + seed) % Math.min(classes, 5), 8 + 4 * i);
    return [images, labels] as const;
  });

/** CSV text with odd delimiters, quoting, labels, encodings, NUL bytes and huge fields. */
const csvArbitrary = fc
  .record({
    columns: fc.integer({ min: 1, max: 6 }),
    rows: fc.integer({ min: 0, max: 40 }),
    delimiter: fc.constantFrom(',', ',', ';', '\t', '|', ', '),
    newline: fc.constantFrom('\n', '\r\n', '\r'),
    labels: fc.constantFrom('few', 'many', 'odd'),
    cell: fc.oneof(
      fc.double({ noNaN: false }).map(String),
      fc.integer().map(String),
      fc.constantFrom('', '"1"', 'NaN', 'Infinity', '1e400', '0x10', ' 3 ', '"a,b"', '"unterminated', '\u0000', 'x'.repeat(2000)),
    ),
    encoding: fc.constantFrom('utf8', 'utf8', 'utf8bom', 'utf16le', 'latin1', 'gzip'),
    seed: fc.nat(),
  })
  .map(({ columns, rows, delimiter, newline, labels, cell, encoding, seed }) => {
    const header = [...Array.from({ length: columns }, (_, j) => `f${j}`), 'label'].join(delimiter);
    const label = (i: number) =>
      labels === 'few' ? `c${(i + seed) % 3}` : labels === 'many' ? `c${i}` : ['é', '"q""x"', '', ' ', 'l\u0000', 'ß'.repeat(70)][i % 6]!;
    const lines = Array.from({ length: rows }, (_, i) =>
      [...Array.from({ length: columns }, (_, j) => ((i + j + seed) % 7 === 0 ? cell : String((i * 3 + j) % 10))), label(i)].join(delimiter),
    );
    const text = [header, ...lines].join(newline) + newline;
    if (encoding === 'utf8bom') return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    if (encoding === 'gzip') return gzipSync(text);
    return Buffer.from(text, encoding);
  });

/** The tiny model's model.json bent: deep nesting, odd manifests, odd quantization, values that are not numbers. */
function modelJsonArbitrary(tiny: { json: string }): fc.Arbitrary<Buffer> {
  const base = () => JSON.parse(tiny.json) as Record<string, any>;
  return fc.oneof(
    fc.constant(Buffer.from(tiny.json)),
    fc.nat({ max: 30_000 }).map((d) => Buffer.from(`{"modelTopology":${'['.repeat(d)}${']'.repeat(d)},"weightsManifest":[]}`)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
    fc
      .record({ key: fc.constantFrom('format', 'modelTopology', 'weightsManifest', 'generatedBy'), value: fc.jsonValue({ maxDepth: 3 }) })
      .map(({ key, value }) => Buffer.from(JSON.stringify({ ...base(), [key]: value }))),
    fc
      .record({
        dtype: fc.constantFrom('uint8', 'uint16', 'float16', 'int8', 'float64'),
        scale: fc.oneof(fc.double(), fc.constant('x')),
        min: fc.oneof(fc.double(), fc.constant(null)),
      })
      .map((quantization) => {
        const json = base();
        for (const w of json.weightsManifest[0].weights) w.quantization = quantization;
        return Buffer.from(JSON.stringify(json));
      }),
    fc
      .record({
        shape: fc.array(fc.oneof(fc.nat({ max: 10 }), fc.constantFrom(-1, 1.5, 2 ** 40)), { maxLength: 12 }),
        paths: fc.array(oddText, { maxLength: 4 }),
      })
      .map(({ shape, paths }) => {
        const json = base();
        json.weightsManifest[0].weights[0].shape = shape;
        if (paths.length) json.weightsManifest[0].paths = paths;
        return Buffer.from(JSON.stringify(json));
      }),
    bytes(300),
  );
}

function weightsArbitrary(tiny: { weights: Buffer }): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.constant(tiny.weights),
    fc
      .array(fc.oneof(fc.double({ min: -2, max: 2 }), fc.constantFrom(NaN, Infinity, -Infinity, 3e38, 1e12)), { minLength: 10, maxLength: 10 })
      .map((v) => Buffer.from(new Float32Array(v).buffer)),
    bytes(100),
    fc.constant(Buffer.alloc(MAX_UPLOAD_BYTES + 10)),
  );
}

function uploadArbitrary(tiny: { json: string; weights: Buffer }): fc.Arbitrary<Upload> {
  const filePart = (names: string[], content: fc.Arbitrary<Buffer>) =>
    fc.record({
      name: fc.oneof(fc.constantFrom(...names), oddText),
      filename: fc.oneof(fc.constantFrom('data.bin', 'weights.bin', 'model.json'), oddText),
      content,
    });
  const fieldPart = (names: string[]) =>
    fc.record({
      name: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: oddText }),
      content: oddText.map((t) => Buffer.from(t)),
    });
  const damage: fc.Arbitrary<Upload['damage']> = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: 'none' as const }) },
    { weight: 1, arbitrary: fc.nat({ max: 3000 }).map((at) => ({ kind: 'truncate' as const, at })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ at: fc.nat({ max: 3000 }), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }) })
        .map((g) => ({ kind: 'garble' as const, ...g })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=nope', 'multipart/mixed; boundary=B', 'text/csv')
        .map((header) => ({ kind: 'boundary' as const, header })),
    },
  );
  const datasetParts = fc.oneof(
    idxPairArbitrary.map(([images, labels]) => [
      { name: 'train_images', filename: 'i.idx', content: images },
      { name: 'train_labels', filename: 'l.idx', content: labels },
    ]),
    fc.tuple(idxArbitrary, idxArbitrary).map(([images, labels]) => [
      { name: 'train_images', filename: 'i.idx', content: images },
      { name: 'train_labels', filename: 'l.idx', content: labels },
    ]),
    csvArbitrary.map((csv) => [{ name: 'csv', filename: 'data.csv', content: csv }]),
    fc.array(fc.oneof(filePart(DATASET_FIELDS, fc.oneof(idxArbitrary, csvArbitrary, bytes(200))), fieldPart(DATASET_FIELDS)), { maxLength: 40 }),
  );
  const modelParts = fc.oneof(
    fc.tuple(modelJsonArbitrary(tiny), weightsArbitrary(tiny)).map(([json, weights]) => [
      { name: 'model.json', filename: 'model.json', content: json },
      { name: 'weights', filename: 'weights.bin', content: weights },
    ]),
    fc.array(fc.oneof(filePart(MODEL_FIELDS, fc.oneof(modelJsonArbitrary(tiny), weightsArbitrary(tiny))), fieldPart(MODEL_FIELDS)), { maxLength: 40 }),
  );
  // Mostly none or a plausible name, sometimes anything.
  const extraFields = fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as Part[]) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 30 }).map((name) => [{ name: 'name', content: Buffer.from(name) }]) },
    { weight: 1, arbitrary: fc.array(fieldPart(['name', 'format', 'label_column']), { maxLength: 3 }) },
  );
  return fc.oneof(
    fc.record({ path: fc.constant('/v1/datasets' as const), parts: fc.tuple(datasetParts, extraFields).map(([a, b]) => [...b, ...a] as Part[]), damage }),
    fc.record({ path: fc.constant('/v1/models' as const), parts: fc.tuple(modelParts, extraFields).map(([a, b]) => [...b, ...a] as Part[]), damage }),
  );
}

// ------------------------------------------------------------------------------------------ transport

const BOUNDARY = '----fuzz7MA4YWxkTrZu0gW';

/** The multipart body as bytes, with its damage done. File names are written raw, as a careless client would. */
function encode(upload: Upload): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of upload.parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename.replace(/[\r\n"]/g, '_')}"`;
    chunks.push(
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${part.name.replace(/[\r\n"]/g, '_')}"${filename}\r\n${part.filename === undefined ? '' : 'Content-Type: application/octet-stream\r\n'}\r\n`,
        'utf8',
      ),
      part.content,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  let body = Buffer.concat(chunks);
  let contentType = `multipart/form-data; boundary=${BOUNDARY}`;
  const { damage } = upload;
  if (damage.kind === 'truncate') body = body.subarray(0, Math.min(damage.at, body.length));
  else if (damage.kind === 'garble') {
    body = Buffer.from(body);
    damage.bytes.forEach((b, i) => {
      if (damage.at + i < body.length) body[damage.at + i] = b;
    });
  } else if (damage.kind === 'boundary') contentType = damage.header;
  return { body, contentType };
}

function send(
  host: { hostname: string; port: number },
  path: string,
  body: Buffer,
  contentType: string,
  key: string,
): Promise<{ status: number; text: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...host,
        method: 'POST',
        path,
        headers: { authorization: `Bearer ${key}`, 'content-type': contentType, 'content-length': String(body.length) },
        timeout: 60_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    // The server may answer (413, 415) before it has read the whole body and close: that answer counts.
    req.on('error', (err) => setTimeout(() => reject(err), ['EPIPE', 'ECONNRESET'].includes((err as { code?: string }).code ?? '') ? 5000 : 0));
    req.end(body);
  });
}
