// `npx tsx bench/memory-estimate.ts [--append]`: how honest the submit-time memory estimate is. Each job
// shape runs in a fresh child process (as the worker's training child does: wasm backend, one job) that
// reports its resident-set high-water mark (getrusage maxRSS, which counts the JS heap, typed arrays
// and the wasm heap alike); the estimate of src/ml/memory-estimate.ts is set beside it. Goal: within ±30%.
// --append adds the table to bench/RESULTS.md.
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { estimateJobMemory } from '../src/ml/memory-estimate.js';
import type { EngineSpec } from '../src/ml/spec.js';

const MiB = 2 ** 20;
const one = { epochs: 1 };

/** Small jobs (seconds each) whose data or models are large enough to matter beside the runtime. */
const SHAPES: Array<{ name: string; spec: EngineSpec }> = [
  {
    name: 'MLP, 20k × 512 synthetic',
    spec: {
      dataset: { source: 'builtin:synthetic', options: { samples: 20_000, features: 512 }, limit: { train: 2000 } },
      teacher: { model: { preset: 'mlp-tiny' }, training: one },
      student: { model: { preset: 'linear' }, training: one },
    },
  },
  {
    name: 'MLP, wide, batch 4096',
    spec: {
      dataset: { source: 'builtin:synthetic', options: { samples: 8000, features: 1024 } },
      teacher: {
        model: {
          layers: [
            { type: 'dense', units: 2048, activation: 'relu' },
            { type: 'dense', units: 10 },
          ],
        },
        training: { epochs: 1, batch_size: 4096 },
      },
      student: { model: { preset: 'mlp-tiny' }, training: one },
    },
  },
  {
    name: 'CNN, mnist',
    spec: {
      dataset: { source: 'builtin:mnist', limit: { train: 1000 } },
      teacher: { model: { preset: 'cnn-teacher' }, training: { epochs: 1, batch_size: 256 } },
      student: { model: { preset: 'cnn-student' }, training: one },
    },
  },
  {
    name: 'resized inputs 8×8 → 96×96',
    spec: {
      dataset: { source: 'builtin:synthetic', options: { samples: 6000, shape: [8, 8, 1] }, limit: { train: 500 } },
      teacher: { model: { preset: 'linear', input_shape: [96, 96, 1] }, training: one },
      student: { model: { preset: 'linear', input_shape: [64, 64, 1] }, training: one },
    },
  },
  {
    name: 'three teachers, baseline',
    spec: {
      dataset: { source: 'builtin:synthetic', options: { samples: 20_000, features: 256 }, limit: { train: 3000 } },
      teachers: [0, 1, 2].map(() => ({
        model: {
          layers: [
            { type: 'dense' as const, units: 1024, activation: 'relu' as const },
            { type: 'dense' as const, units: 10 },
          ],
        },
        training: one,
      })),
      student: { model: { preset: 'mlp-tiny' }, training: one },
      distillation: { baseline: true },
    },
  },
];

async function child(spec: EngineSpec): Promise<void> {
  const { runJob } = await import('../src/ml/index.js');
  const { encodeCheckpoint } = await import('../src/ml/checkpoint.js');
  // Checkpoints are encoded each epoch, as the training child does (then written to storage).
  await runJob(spec, { backend: 'wasm', onEvent: () => {}, onCheckpoint: async (c) => void encodeCheckpoint(c) });
  process.stdout.write(JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

function measure(spec: EngineSpec): number {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return (JSON.parse(out.slice(out.lastIndexOf('{'))) as { maxRssBytes: number }).maxRssBytes;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(JSON.parse(argv[1]!) as EngineSpec);
  const rows: string[] = [];
  let worst = 0;
  for (const { name, spec } of SHAPES) {
    const estimate = estimateJobMemory({ spec }).bytes;
    const measured = measure(spec);
    const error = estimate / measured - 1;
    worst = Math.max(worst, Math.abs(error));
    const row = `| ${name} | ${(estimate / MiB).toFixed(0)} | ${(measured / MiB).toFixed(0)} | ${error >= 0 ? '+' : ''}${(100 * error).toFixed(0)}% |`;
    console.log(
      row,
      argv.includes('--parts')
        ? estimateJobMemory({ spec })
            .parts.map((p) => `${p.what}: ${(p.bytes / MiB).toFixed(0)}`)
            .join('; ')
        : '',
    );
    rows.push(row);
  }
  console.log(`worst: ${(100 * worst).toFixed(0)}%`);
  if (argv.includes('--append')) {
    appendFileSync(
      new URL('./RESULTS.md', import.meta.url),
      [
        '',
        `## Memory estimate vs measured peak (${new Date().toISOString().slice(0, 10)})`,
        '',
        '`npx tsx bench/memory-estimate.ts`: each job in a fresh child process on wasm (as a training child runs it), its',
        'resident-set high-water mark (getrusage maxRSS: JS heap, typed arrays and the wasm heap) against the estimate the',
        'API makes at submit (src/ml/memory-estimate.ts). Goal: within ±30%.',
        '',
        '| job | estimate MiB | measured peak MiB | estimate error |',
        '|---|---|---|---|',
        ...rows,
        '',
        `Worst error: ${(100 * worst).toFixed(0)}%.`,
        '',
      ].join('\n'),
    );
  }
}

await main();
