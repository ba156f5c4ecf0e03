/**
 * Uploads that claim more than they hold: classes (MAX_CLASSES), dimensions, nesting, weights that are
 * not numbers, files that are not what their field says. Each is refused with a 4xx naming the problem
 * in a short detail that quotes no raw bytes, and leaves neither a row nor a file.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { request } from '../support/http.js';
import { Contract } from '../support/openapi.js';
import { startStack, type Stack } from '../support/stack.js';
import { tinyModel } from '../support/tiny-model.js';

const MAX_CLASSES = 50;
/** Every answer here is checked against openapi.yaml too (status, headers, problem schema). */
const contract = new Contract();

/** An IDX file of any element type (0x08 ubyte, 0x0c int32, 0x0d float32): header then big-endian data. */
function idx(dims: number[], values: number[], type = 0x08): Buffer {
  const size = { 0x08: 1, 0x0c: 4, 0x0d: 4 }[type]!;
  const out = Buffer.alloc(4 + 4 * dims.length + values.length * size);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  values.forEach((v, i) => {
    const at = 4 + 4 * dims.length + i * size;
    if (type === 0x08) out[at] = v;
    else if (type === 0x0c) out.writeInt32BE(v, at);
    else out.writeFloatBE(v, at);
  });
  return out;
}

/** `n` samples of 4 pixels, labels cycling through `classes` classes. */
function idxPair(n: number, classes: number): { images: Buffer; labels: Buffer } {
  return {
    images: idx(
      [n, 2, 2],
      Array.from({ length: n * 4 }, (_, i) => (i * 37) % 256),
    ),
    labels: idx(
      [n],
      Array.from({ length: n }, (_, i) => i % classes),
    ),
  };
}

/** A CSV with two features and `classes` distinct labels. */
function csvOf(classes: number, rows = classes * 2, label = (i: number) => `class-${i % classes}`): string {
  return `f0,f1,label\n${Array.from({ length: rows }, (_, i) => `${i % 7},${(i * 3) % 11},${label(i)}`).join('\n')}\n`;
}

type Part = [field: string, content: Buffer | string, filename?: string];

async function post(stack: Stack, path: string, parts: Part[]) {
  const form = new FormData();
  for (const [field, content, filename] of parts) {
    if (filename === undefined) form.append(field, String(content));
    else form.append(field, new Blob([typeof content === 'string' ? content : new Uint8Array(content)]), filename);
  }
  const response = await fetch(`${stack.url}${path}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${stack.keys.a.key}` } });
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

/** A refusal as the API must give it: problem+json, the code or reason, a short printable detail. */
function assertRefusal(response: Awaited<ReturnType<typeof post>>, status: number, reason: string, detail: RegExp): void {
  assert.equal(response.status, status, response.text.slice(0, 500));
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.ok(response.body.code === reason || response.body.reason === reason, `code or reason ${reason}: ${response.text.slice(0, 500)}`);
  assert.match(response.body.detail, detail);
  assert.ok(response.body.detail.length < 400, `a short detail (${response.body.detail.length} characters)`);
  assert.doesNotMatch(response.body.detail, /[\u0000-\u0008\u000e-\u001f\ufffd]/, 'no raw bytes in the detail');
  // Nor invisible or reordering characters (C1 controls, bidi overrides, zero-width ones): quoted escaped.
  assert.doesNotMatch(response.body.detail, /[\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/, 'no format character in the detail');
  assert.ok(response.text.length < 2000, `a small answer (${response.text.length} bytes)`);
}

const stored = async (stack: Stack, kind: 'datasets' | 'models') => (await readdir(join(stack.config.ARTIFACT_DIR, kind)).catch(() => [] as string[])).sort();

describe('upload limits: what an upload claims is bounded before it is believed', () => {
  let stack: Stack;
  let tiny: { json: string; weights: Buffer };
  const accepted = { datasets: [] as string[], models: [] as string[] };

  before(async () => {
    tiny = await tinyModel();
    stack = await startStack({ workers: 0, env: { MAX_CLASSES: String(MAX_CLASSES), MAX_UPLOAD_BYTES: String(8 * 1024 ** 2) } });
  });
  after(() => stack.stop());

  test('IDX and CSV datasets of exactly MAX_CLASSES classes are accepted, and their objects stay small', async () => {
    const pair = idxPair(200, MAX_CLASSES);
    const ds = await post(stack, '/v1/datasets', [
      ['train_images', pair.images, 'i.idx'],
      ['train_labels', pair.labels, 'l.idx'],
    ]);
    assert.equal(ds.status, 201, ds.text);
    assert.equal(ds.body.num_classes, MAX_CLASSES);
    const csv = await post(stack, '/v1/datasets', [['csv', csvOf(MAX_CLASSES, 200, (i) => `${'x'.repeat(60)}${i % MAX_CLASSES}`.slice(-64)), 'c.csv']]);
    assert.equal(csv.status, 201, csv.text);
    assert.equal(csv.body.num_classes, MAX_CLASSES);
    accepted.datasets.push(ds.body.id, csv.body.id);
    const list = await request(stack.url, 'GET', '/v1/datasets?limit=100');
    assert.ok(JSON.stringify(list.body).length < 20_000, 'the list stays small');
  });

  describe('a dataset that claims too much is refused with 400 and leaves nothing', () => {
    const cases: Array<[string, () => Part[], number, string, RegExp]> = [
      // The review's example: 38 bytes whose int32 labels claim 2,000,001 classes.
      [
        '38 bytes of IDX whose int32 labels are [0, 2000000]',
        () => [
          ['train_images', idx([2, 1, 1], [1, 2]), 'i.idx'],
          ['train_labels', idx([2], [0, 2_000_000], 0x0c), 'l.idx'],
        ],
        400,
        'too_many_classes',
        /train labels: label 1 is 2000000, .*below 50 .*MAX_CLASSES/,
      ],
      [
        'IDX labels one past MAX_CLASSES',
        () => {
          const p = idxPair(120, MAX_CLASSES + 1);
          return [
            ['train_images', p.images, 'i'],
            ['train_labels', p.labels, 'l'],
          ];
        },
        400,
        'too_many_classes',
        /label 50 is 50/,
      ],
      [
        'IDX test labels past MAX_CLASSES',
        () => {
          const p = idxPair(100, 10);
          const t = idxPair(60, 60);
          return [
            ['train_images', p.images, 'i'],
            ['train_labels', p.labels, 'l'],
            ['test_images', t.images, 't'],
            ['test_labels', t.labels, 'u'],
          ];
        },
        400,
        'too_many_classes',
        /test labels: label 50 is 50/,
      ],
      [
        'gzipped IDX labels past MAX_CLASSES',
        () => [
          ['train_images', gzipSync(idx([2, 1, 1], [1, 2])), 'i.gz'],
          ['train_labels', gzipSync(idx([2], [0, 70_000], 0x0c)), 'l.gz'],
        ],
        400,
        'too_many_classes',
        /70000/,
      ],
      [
        'float IDX labels that are not class indices',
        () => [
          ['train_images', idx([2, 1, 1], [1, 2]), 'i'],
          ['train_labels', idx([2], [0, 1.5], 0x0d), 'l'],
        ],
        400,
        'non_finite',
        /label 1 is 1\.5, not a class index/,
      ],
      [
        'a CSV of MAX_CLASSES + 1 distinct labels',
        () => [['csv', csvOf(MAX_CLASSES + 1), 'c.csv']],
        400,
        'too_many_classes',
        /more than 50 distinct labels .*MAX_CLASSES/,
      ],
      [
        'a CSV whose every row has its own label (a feature named as the label)',
        () => [['csv', csvOf(100_000, 20_000), 'c.csv']],
        400,
        'too_many_classes',
        /by line 52/,
      ],
      [
        'a CSV label longer than a class name may be',
        () => [['csv', csvOf(2, 4, (i) => (i % 2 ? 'y' : 'x'.repeat(5000))), 'c.csv']],
        400,
        'csv_bad_label',
        /has 5000 characters; class names have at most 64/,
      ],
      [
        'IDX dimensions claiming 2^96 images in 16 bytes',
        () => [
          ['train_images', idx([0xffffffff, 0xffffffff, 0xffffffff], []), 'i'],
          ['train_labels', idx([1], [0]), 'l'],
        ],
        400,
        'idx_truncated',
        /need more bytes than any file holds, file has 16/,
      ],
      [
        'IDX labels claiming 4 billion entries',
        () => [
          ['train_images', idx([2, 1, 1], [1, 2]), 'i'],
          ['train_labels', idx([0xffffffff], [0, 1]), 'l'],
        ],
        400,
        'idx_truncated',
        /train labels: dimensions \[4294967295\] need 4294967303 bytes, file has 10/,
      ],
      [
        'an IDX file gzipped twice (a bomb inside a gzip)',
        () => [
          ['train_images', gzipSync(gzipSync(Buffer.alloc(4 * 1024 ** 2))), 'i.gz.gz'],
          ['train_labels', idx([1], [0]), 'l'],
        ],
        400,
        'idx_bad_magic',
        /train images is gzipped twice/,
      ],
    ];
    for (const [name, parts, status, reason, detail] of cases) {
      test(name, async () => assertRefusal(await post(stack, '/v1/datasets', parts()), status, reason, detail));
    }
  });

  describe('a binary or compressed file given as CSV is named, its bytes never echoed', () => {
    const csv = csvOf(3);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['a gzipped CSV', gzipSync(csv), /csv looks like a gzip file: upload IDX \.gz files, or the CSV unpacked/],
      ['a zipped CSV', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), deflateRawSync(csv)]), /looks like a zip archive/],
      ['a UTF-16 CSV', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csv, 'utf16le')]), /looks like UTF-16 text: save the CSV as UTF-8/],
      ['an IDX file given as csv', idx([3], [0, 1, 2]), /looks like an IDX file: upload it as train_images or train_labels/],
      ['random binary bytes', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) % 256)), /is not UTF-8 text \(it looks binary\)/],
      ['a Latin-1 CSV', Buffer.from(`f0,label\n1,caf\u00e9\n2,th\u00e9\n`, 'latin1'), /is not UTF-8 text/],
    ];
    for (const [name, bytes, detail] of cases) {
      test(name, async () => assertRefusal(await post(stack, '/v1/datasets', [['csv', bytes, 'data.csv']]), 400, 'csv_not_text', detail));
    }

    test('a header or cell of thousands of characters is quoted in a few dozen', async () => {
      const huge = 'q'.repeat(100_000);
      assertRefusal(
        await post(stack, '/v1/datasets', [
          ['csv', `${huge},label\n1,a\n2,b\n`, 'c.csv'],
          ['label_column', 'nope'],
        ]),
        400,
        'csv_bad_header',
        /no column named "nope" in the header \("q+…", "label"\)/,
      );
      assertRefusal(
        await post(stack, '/v1/datasets', [['csv', `f0,label\n1,a\n${huge},b\n`, 'c.csv']]),
        400,
        'csv_non_numeric',
        /line 3, column "f0": "q+…" is not a number/,
      );
      assertRefusal(
        await post(stack, '/v1/datasets', [
          ['csv', csvOf(3), 'c.csv'],
          ['format', huge.slice(0, 4000)],
        ]),
        400,
        'invalid_upload',
        /format must be idx or csv, got "q{20}…"/,
      );
    });

    test('bidi overrides, zero-width and C1 characters in names from an upload are quoted escaped', async () => {
      const sly = '\u202eevil\u200b\u0085\u2066';
      assertRefusal(
        await post(stack, '/v1/datasets', [
          ['csv', `f0,label\n1,a\n2,b\n`, 'c.csv'],
          ['label_column', sly],
        ]),
        400,
        'csv_bad_header',
        /no column named "\\u202eevil\\u200b\\u0085\\u2066"/,
      );
      assertRefusal(await post(stack, '/v1/datasets', [['csv', `f0,label\n1,a\n${sly},b\n`, 'c.csv']]), 400, 'csv_non_numeric', /"\\u202eevil/);
      assertRefusal(
        await post(stack, '/v1/datasets', [
          ['csv', csvOf(3), 'c.csv'],
          [sly, 'x'],
        ]),
        400,
        'invalid_upload',
        /unknown form field\(s\): "\\u202eevil/,
      );
      const j = JSON.parse(tiny.json) as { weightsManifest: Array<{ paths: string[] }> };
      j.weightsManifest[0]!.paths = [`${sly}.bin`];
      assertRefusal(
        await post(stack, '/v1/models', [['model.json', JSON.stringify(j), 'model.json']]),
        400,
        'missing_weights',
        /names "\\u202eevil\\u200b\\u0085\\u2066\.bin"/,
      );
    });

    test('a CSV separated by semicolons is told that columns are separated by commas', async () => {
      assertRefusal(
        await post(stack, '/v1/datasets', [['csv', 'f0;f1;label\n1;2;a\n3;4;b\n', 'c.csv']]),
        400,
        'csv_bad_header',
        /no column named "label" in the header \("f0;f1;label"\): the header is one column; columns are separated by commas, not ";"/,
      );
    });

    test('a UTF-8 CSV with a byte-order mark is read as its header says', async () => {
      const response = await post(stack, '/v1/datasets', [
        ['csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csvOf(3, 12, (i) => ['café', 'thé', 'eau'][i % 3]!))]), 'bom.csv'],
      ]);
      assert.equal(response.status, 201, response.text);
      assert.deepEqual(response.body.class_names, ['café', 'eau', 'thé']);
      accepted.datasets.push(response.body.id);
    });
  });

  test('nothing of the refused datasets was stored', async () => {
    const rows = (await stack.db.dataset.findMany({ select: { id: true } })).map((r) => r.id).sort();
    assert.deepEqual(rows, [...accepted.datasets].sort());
    assert.deepEqual(await stored(stack, 'datasets'), rows);
  });

  describe('a model whose description or weights claim too much is refused with 4xx and leaves nothing', () => {
    const json = () =>
      JSON.parse(tiny.json) as { modelTopology: unknown; weightsManifest: Array<{ paths: string[]; weights: Array<Record<string, unknown>> }> };
    const withWeights = (values: number[]): Part[] => [
      ['model.json', tiny.json, 'model.json'],
      ['weights', Buffer.from(new Float32Array(values).buffer), 'weights.bin'],
    ];
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const cases: Array<[string, () => Part[], number, string, RegExp]> = [
      [
        'a NaN weight',
        () => withWeights([0.1, 0.2, NaN, 0.4, 0.5, 0.6, 0.7, 0.8, 0, 0]),
        400,
        'non_finite_weights',
        /weight "dense_\w+\/kernel" holds NaN at index 2/,
      ],
      ['an infinite bias', () => withWeights([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0, -Infinity]), 400, 'non_finite_weights', /holds -Infinity at index 1/],
      [
        'an absurdly large weight',
        () => withWeights([0.1, 3e30, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0, 0]),
        400,
        'non_finite_weights',
        /holds 3\.00e\+30 at index 1: a teacher's weights must be finite numbers within ±1000000000/,
      ],
      [
        'an absurd quantization scale',
        () => {
          const j = json();
          for (const w of j.weightsManifest[0]!.weights) w.quantization = { dtype: 'uint8', scale: 1e30, min: 0 };
          return [
            ['model.json', JSON.stringify(j), 'model.json'],
            ['weights', Buffer.alloc(10), 'weights.bin'],
          ];
        },
        400,
        'bad_quantization',
        /quantization scale 1e\+30 and min 0, which dequantize to values beyond/,
      ],
      [
        'a quantization min that is not a number',
        () => {
          const j = json();
          for (const w of j.weightsManifest[0]!.weights) w.quantization = { dtype: 'uint8', scale: 0.1, min: 'x' };
          return [
            ['model.json', JSON.stringify(j), 'model.json'],
            ['weights', Buffer.alloc(10), 'weights.bin'],
          ];
        },
        400,
        'bad_quantization',
        /both must be finite numbers/,
      ],
      [
        'a 20,000-deep modelTopology',
        () => [['model.json', `{"format":"layers-model","modelTopology":${nested(20_000)},"weightsManifest":[]}`, 'model.json']],
        400,
        'too_deep',
        /nests more than 64 levels/,
      ],
      [
        'a 20,000-deep value anywhere in model.json',
        () => [['model.json', `{"modelTopology":{"a":1},"weightsManifest":[],"x":${nested(20_000)}}`, 'model.json']],
        400,
        'too_deep',
        /nests more than 64 levels/,
      ],
      [
        'a model.json of 5 MiB',
        () => [['model.json', `{"modelTopology":{"a":"${'x'.repeat(5 * 1024 ** 2)}"},"weightsManifest":[]}`, 'model.json']],
        413,
        'upload_too_large',
        /model\.json is 524\d+ bytes, more than the 4194304/,
      ],
      [
        'a weight of rank 10,000',
        () => {
          const j = json();
          j.weightsManifest[0]!.weights[0]!.shape = Array.from({ length: 10_000 }, () => 1);
          return [
            ['model.json', JSON.stringify(j), 'model.json'],
            ['weights', tiny.weights, 'weights.bin'],
          ];
        },
        400,
        'bad_manifest',
        /integer shape of at most 8 dimensions/,
      ],
      [
        'a weight claiming 2^60 values',
        () => {
          const j = json();
          j.weightsManifest[0]!.weights[0]!.shape = [2 ** 30, 2 ** 30];
          return [
            ['model.json', JSON.stringify(j), 'model.json'],
            ['weights', tiny.weights, 'weights.bin'],
          ];
        },
        400,
        'weights_size_mismatch',
        /need more than any upload holds/,
      ],
      [
        'a model reading inputs of rank 9',
        () => {
          const j = json() as { modelTopology: { config: { layers: Array<{ config: Record<string, unknown> }> } } };
          j.modelTopology.config.layers[0]!.config.batch_input_shape = [null, 1, 1, 1, 1, 1, 1, 1, 1, 4];
          return [
            ['model.json', JSON.stringify(j), 'model.json'],
            ['weights', tiny.weights, 'weights.bin'],
          ];
        },
        400,
        'unsupported_shape',
        /reads inputs of rank 9: a teacher reads at most 8 dimensions/,
      ],
      [
        'a format of 100,000 characters',
        () => [['model.json', JSON.stringify({ ...json(), format: 'g'.repeat(100_000) }), 'model.json']],
        400,
        'not_layers_model',
        /format "g{40}…": only tfjs layers models/,
      ],
      [
        'weight names of 10,000 characters',
        () => {
          const j = json();
          j.weightsManifest[0]!.paths = Array.from({ length: 30 }, (_, i) => `${'w'.repeat(10_000)}${i}.bin`);
          return [['model.json', JSON.stringify(j), 'model.json']];
        },
        400,
        'missing_weights',
        /names "w{60}…", .* and 27 more, which were not uploaded/,
      ],
      // One uploaded file named many times would be joined as that many copies: MiB uploaded, hundreds claimed.
      [
        'one weight file named 100 times',
        () => {
          const j = json();
          j.weightsManifest[0]!.paths = Array.from({ length: 100 }, () => 'weights.bin');
          j.weightsManifest[0]!.weights[0]!.shape = [100 * 10, 1];
          return [
            ['model.json', JSON.stringify(j), 'model.json'],
            ['weights', tiny.weights, 'weights.bin'],
          ];
        },
        400,
        'bad_manifest',
        /names "weights\.bin" more than once: each weight file is named once/,
      ],
      [
        'one weight file named again through a folder and in a second group',
        () => {
          const j = json();
          j.weightsManifest.push({ paths: ['../../x/weights.bin'], weights: [] });
          return [
            ['model.json', JSON.stringify(j), 'model.json'],
            ['weights', tiny.weights, 'weights.bin'],
          ];
        },
        400,
        'bad_manifest',
        /names "weights\.bin" more than once/,
      ],
    ];
    for (const [name, parts, status, reason, detail] of cases) {
      test(name, async () => assertRefusal(await post(stack, '/v1/models', parts()), status, reason, detail));
    }

    test('the tiny model itself is accepted, and nothing of the refused ones was stored', async () => {
      const response = await post(stack, '/v1/models', [
        ['model.json', tiny.json, 'model.json'],
        ['weights', tiny.weights, 'weights.bin'],
      ]);
      assert.equal(response.status, 201, response.text);
      const rows = (await stack.db.model.findMany({ select: { id: true } })).map((r) => r.id);
      assert.deepEqual(rows, [response.body.id]);
      assert.deepEqual(await stored(stack, 'models'), rows);
    });
  });
});
