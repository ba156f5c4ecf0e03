// `npx tsx bench/upload-stall.ts [--mib 32] [--features 32] [--rounds 2] [--inline] [--priority -10] [--profile f]`: how long uploads hold
// the API's event loop (every other request and socket waits that long). The API runs in its own process
// (bench/load/server.ts) with the default upload settings and reports its event-loop delay (10 ms
// resolution) since the last read; the bench sends each upload, waits for its answer, and reads the delay.
// The uploads: a large generated CSV, then a set of hostile ones (tiny files claiming huge metadata,
// gzip bombs, deep JSON, many parts, a burst of concurrent model uploads). With --inline, also the same
// CSV parse run directly on this process's event loop, which is where the API ran it before upload
// checks moved to a child process.
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { parseDataset } from '../src/resources/dataset-files.js';
import { startApiSandbox } from './load/api-sandbox.js';
import { ms } from './load/stats.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const MIB = option('mib', 32);
const FEATURES = option('features', 32);
const ROUNDS = option('rounds', 2);
const INLINE = argv.includes('--inline');
/**
 * `--priority -10`: the API process's nice value (its check children inherit it; needs root). On a shared
 * machine, other work preempting the API shows up as event-loop delay that no code of ours caused.
 */
const PRIORITY = argv.includes('--priority') ? Number(argv[argv.indexOf('--priority') + 1]) : undefined;
/** `--profile file.cpuprofile`: a CPU profile of the API process over the hostile uploads. */
const PROFILE = argv.includes('--profile') ? argv[argv.indexOf('--profile') + 1] : undefined;

function bigCsv(): Buffer {
  const header = [...Array.from({ length: FEATURES }, (_, j) => `f${j}`), 'label'].join(',');
  const rows: string[] = [header];
  let bytes = header.length + 1;
  for (let i = 0; bytes < MIB * 1024 ** 2; i++) {
    const row = [...Array.from({ length: FEATURES }, (_, j) => (((i * 31 + j * 17) % 1000) / 1000).toFixed(3)), `c${i % 10}`].join(',');
    rows.push(row);
    bytes += row.length + 1;
  }
  return Buffer.from(`${rows.join('\n')}\n`);
}

/** An IDX file: 0x0000, element type, rank, big-endian dimensions, then the data as given. */
function idx(dims: number[], data: Buffer, type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}
const int32 = (values: number[]) => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeInt32BE(v, 4 * i));
  return b;
};

type Part = [field: string, bytes: Buffer | string, filename: string];
interface Case {
  what: string;
  path: '/v1/datasets' | '/v1/models';
  parts: () => Part[];
  /** How many of it to send at once. */
  concurrent?: number;
}

/** model.json naming one float32 weight of `values` values, and those weights (the topology is tiny: it will not load). */
function modelWithWeights(values: number): Part[] {
  const json = {
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { units: 2, batch_input_shape: [null, 4] } }] } },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [values], dtype: 'float32' }] }],
  };
  return [
    ['model.json', JSON.stringify(json), 'model.json'],
    ['weights', Buffer.alloc(values * 4, 1), 'weights.bin'],
  ];
}

const HOSTILE: Case[] = [
  {
    what: '38 bytes of IDX, int32 labels [0, 2000000] (2,000,001 classes claimed)',
    path: '/v1/datasets',
    parts: () => [
      ['train_images', idx([2, 1, 1], Buffer.from([1, 2])), 'i'],
      ['train_labels', idx([2], int32([0, 2_000_000]), 0x0c), 'l'],
    ],
  },
  {
    what: 'CSV of 200,000 rows, every label distinct (3.4 MiB)',
    path: '/v1/datasets',
    parts: () => [['csv', `f0,label\n${Array.from({ length: 200_000 }, (_, i) => `${i % 10},c${i}`).join('\n')}\n`, 'labels.csv']],
  },
  {
    what: 'IDX headers claiming 2^96 images and 4·10^9 labels (26 bytes)',
    path: '/v1/datasets',
    parts: () => [
      ['train_images', idx([0xffffffff, 0xffffffff, 0xffffffff], Buffer.alloc(0)), 'i'],
      ['train_labels', idx([0xffffffff], Buffer.from([0, 1])), 'l'],
    ],
  },
  {
    what: 'gzip bomb: 1 MiB of gzipped IDX unpacking to 1 GiB',
    path: '/v1/datasets',
    parts: () => [
      ['train_images', gzipSync(idx([1_368_000, 28, 28], Buffer.alloc(1_368_000 * 784))), 'i.gz'],
      ['train_labels', idx([1], Buffer.from([0])), 'l'],
    ],
  },
  {
    what: 'gzip bomb inside a gzip (IDX gzipped twice)',
    path: '/v1/datasets',
    parts: () => [
      ['train_images', gzipSync(gzipSync(Buffer.alloc(512 * 1024 ** 2))), 'i.gz.gz'],
      ['train_labels', idx([1], Buffer.from([0])), 'l'],
    ],
  },
  { what: `a ${MIB} MiB CSV, gzipped, given as csv`, path: '/v1/datasets', parts: () => [['csv', gzipSync(bigCsvOnce()), 'data.csv.gz']] },
  {
    what: '16 files of 2 MiB each (the most parts a form may have)',
    path: '/v1/datasets',
    parts: () => Array.from({ length: 16 }, (_, i): Part => [`f${i}`, Buffer.alloc(2 * 1024 ** 2, 0x31), `f${i}.bin`]),
  },
  { what: '40 parts (over the parts limit)', path: '/v1/datasets', parts: () => Array.from({ length: 40 }, (_, i): Part => [`f${i}`, 'x', `f${i}`]) },
  {
    what: 'model.json nested 20,000 deep',
    path: '/v1/models',
    parts: () => [['model.json', `{"modelTopology":${'['.repeat(20_000)}${']'.repeat(20_000)},"weightsManifest":[]}`, 'model.json']],
  },
  {
    what: 'model.json of 4 MiB (the most allowed), 64 deep',
    path: '/v1/models',
    parts: () => [
      [
        'model.json',
        `{"format":"layers-model","modelTopology":{"pad":"${'x'.repeat(4 * 1024 ** 2 - 300)}","deep":${'['.repeat(60)}${']'.repeat(60)}},"weightsManifest":[]}`,
        'model.json',
      ],
    ],
  },
  {
    what: 'model.json of 6 MiB (over the limit)',
    path: '/v1/models',
    parts: () => [['model.json', `{"modelTopology":{"pad":"${'x'.repeat(6 * 1024 ** 2)}"},"weightsManifest":[]}`, 'model.json']],
  },
  { what: `a model with ${MIB} MiB of weights its topology does not use`, path: '/v1/models', parts: () => modelWithWeights((MIB * 1024 ** 2) / 4) },
  { what: '12 concurrent model uploads (1 MiB of weights each)', path: '/v1/models', parts: () => modelWithWeights(256 * 1024), concurrent: 12 },
];

let csvCache: Buffer | undefined;
const bigCsvOnce = () => (csvCache ??= bigCsv());

const { api, db, key, close } = await startApiSandbox('upload', { MAX_UPLOAD_BYTES: String((MIB + 8) * 1024 ** 2) });
try {
  if (PRIORITY !== undefined) setPriority(api.pid, PRIORITY);
  const post = async (path: string, parts: Part[]) => {
    const form = new FormData();
    for (const [field, bytes, filename] of parts) form.append(field, new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)]), filename);
    const response = await fetch(`${api.url}${path}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
    const body = (await response.json().catch(() => ({}))) as { code?: string; reason?: string };
    return `${response.status}${body.code ? ` ${body.reason ?? body.code}` : ''}`;
  };
  const csv = bigCsvOnce();
  console.log(`CSV: ${(csv.length / 1024 ** 2).toFixed(1)} MiB, ${FEATURES} features; Node ${process.version}`);
  console.log('| upload | answer | took s | API event-loop delay p99 ms | max ms |');
  console.log('|---|---|---|---|---|');
  const row = (what: string, answer: string, took: number, loop: { p99: number; max: number }) =>
    console.log(`| ${what} | ${answer} | ${(took / 1000).toFixed(2)} | ${ms(loop.p99)} | ${ms(loop.max)} |`);
  const measure = async (c: Case) => {
    const parts = c.parts();
    await api.loop();
    const start = performance.now();
    const answers = await Promise.all(Array.from({ length: c.concurrent ?? 1 }, () => post(c.path, parts)));
    const counted = [...new Set(answers)].map((a) => `${a}${answers.length > 1 ? ` ×${answers.filter((x) => x === a).length}` : ''}`).join(', ');
    row(c.what, counted, performance.now() - start, await api.loop());
  };
  // The floor: what the machine alone does to the API's event loop (other processes, the scheduler).
  await api.loop();
  let start = performance.now();
  await new Promise((r) => setTimeout(r, 2000));
  row("nothing: the API idle for 2 s (the machine's floor)", '–', performance.now() - start, await api.loop());
  for (let round = 0; round < ROUNDS; round++) {
    // The same bytes again would be answered from the first upload's row: start from no datasets.
    await db.dataset.deleteMany({});
    await measure({ what: `a ${MIB} MiB CSV (${FEATURES} features), round ${round + 1}`, path: '/v1/datasets', parts: () => [['csv', csv, 'big.csv']] });
    if (INLINE) {
      // Synchronous: the event loop is held for all of it.
      start = performance.now();
      parseDataset({ manifest: { format: 'csv', files: { csv: 'data.csv' }, label_column: 'label' }, files: { csv } });
      const held = performance.now() - start;
      row('the same parse on an event loop (where the API ran it before)', '–', held, { p99: held, max: held });
    }
  }
  if (PROFILE) await api.ask({ profile: 'start' }, 'profiled');
  for (const c of HOSTILE) await measure(c);
  if (PROFILE) await api.ask({ profile: 'stop', file: PROFILE }, 'profiled');
} finally {
  await close();
}
