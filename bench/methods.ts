// Distillation methods compared on builtin:mnist: the same teacher (cnn-teacher, trained once per seed
// on the split's training digits and then given to every job by id) and the same student (cnn-student,
// same 28×28 input) distilled with each method, on a small transfer set so that what the teacher
// passes on matters; the baseline is the same student on hard labels with the same budget.
//   npx tsx bench/methods.ts [--seeds 42,7] [--transfer 1000] [--epochs 8] [--write]
// --write replaces the "Distillation methods" section of bench/RESULTS.md (and only that section).
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { initBackend } from '../src/ml/backend/index.js';
import { runJob, type EngineSpec, type ModelArtifacts } from '../src/ml/index.js';
import type { DistillationSpec } from '../src/ml/spec-distillation.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const seeds = arg('seeds', '42,7').split(',').map(Number);
const TEACHER_TRAIN = Number(arg('teacher-train', '4000'));
const TRANSFER = Number(arg('transfer', '1000'));
const TEST = Number(arg('test', '2000'));
const EPOCHS = Number(arg('epochs', '8'));
const TEACHER_EPOCHS = Number(arg('teacher-epochs', '4'));

const backend = await initBackend('wasm');
const quiet = { onEvent() {} };
const student: EngineSpec['student'] = { model: { preset: 'cnn-student' }, training: { epochs: EPOCHS, batch_size: 64, learning_rate: 0.005 } };
const mnist = (train: number): EngineSpec['dataset'] => ({ source: 'builtin:mnist', limit: { train, test: TEST } });

// The cnn presets name their layers: conv1 28×28 (teacher 32, student 8 channels), conv2 14×14 (64, 16).
const METHODS: Array<[string, DistillationSpec, 'one' | 'two']> = [
  ['logits (Hinton, T 4, α 0.9)', { baseline: true }, 'one'],
  ['hint conv2→conv2 (β 1), no logits', { method: ['hint'], hint: { pairs: [{ student: 'conv2', teacher: 'conv2' }] } }, 'one'],
  [
    'attention conv1, conv2 (β 1), no logits',
    {
      method: ['attention'],
      attention: {
        pairs: [
          { student: 'conv1', teacher: 'conv1' },
          { student: 'conv2', teacher: 'conv2' },
        ],
      },
    },
    'one',
  ],
  ['logits + hint', { method: ['logits', 'hint'], hint: { pairs: [{ student: 'conv2', teacher: 'conv2' }] } }, 'one'],
  [
    'logits + attention',
    {
      method: ['logits', 'attention'],
      attention: {
        pairs: [
          { student: 'conv1', teacher: 'conv1' },
          { student: 'conv2', teacher: 'conv2' },
        ],
      },
    },
    'one',
  ],
  [
    'logits + hint + attention',
    {
      method: ['logits', 'hint', 'attention'],
      hint: { pairs: [{ student: 'conv2', teacher: 'conv2' }] },
      attention: {
        pairs: [
          { student: 'conv1', teacher: 'conv1' },
          { student: 'conv2', teacher: 'conv2' },
        ],
      },
    },
    'one',
  ],
  ['logits, T 8→2 linear', { temperature: { from: 8, to: 2 } }, 'one'],
  ['logits, two teachers (CNN + MLP, mean)', {}, 'two'],
];

interface Row {
  method: string;
  accuracy: Record<number, number>;
  seconds: number;
}
const rows: Row[] = [{ method: 'baseline (hard labels only)', accuracy: {}, seconds: 0 }, ...METHODS.map(([method]) => ({ method, accuracy: {}, seconds: 0 }))];
const teacherAccuracy: Record<string, Record<number, number>> = { cnn: {}, mlp: {} };
const started = performance.now();
const loadAtStart = loadavg()[0]!;

for (const seed of seeds) {
  // Teachers see TEACHER_TRAIN digits of this seed's split; the students' transfer set is the first
  // TRANSFER of them, and the test split is unseen by all.
  const train = async (model: EngineSpec['student']['model']): Promise<ModelArtifacts> => {
    const job = await runJob(
      {
        dataset: mnist(TEACHER_TRAIN),
        teacher: { model, training: { epochs: TEACHER_EPOCHS, batch_size: 64 } },
        student: { model: { preset: 'linear' }, training: { epochs: 1 } },
        seed,
      },
      quiet,
    );
    return job.models.teacher!;
  };
  const cnn = await train({ preset: 'cnn-teacher' });
  const mlp = await train({ layers: [{ type: 'flatten' }, { type: 'dense', units: 256, activation: 'relu' }, { type: 'dense', units: 10 }] });
  const resolveModel = async (id: string) => (id === 'mdl_mlp' ? mlp : cnn);
  for (const [i, [method, distillation, teachers]] of METHODS.entries()) {
    const t0 = performance.now();
    const spec: EngineSpec = {
      dataset: mnist(TRANSFER),
      ...(teachers === 'one' ? { teacher: { model_id: 'mdl_cnn' } } : { teachers: [{ model_id: 'mdl_cnn' }, { model_id: 'mdl_mlp' }] }),
      student,
      distillation,
      seed,
    };
    const r = (await runJob(spec, { ...quiet, resolveModel })).report;
    rows[i + 1]!.accuracy[seed] = r.student.test_accuracy;
    rows[i + 1]!.seconds += (performance.now() - t0) / 1000;
    if (r.baseline) rows[0]!.accuracy[seed] = r.baseline.test_accuracy;
    teacherAccuracy.cnn![seed] = r.teacher.test_accuracy;
    if (r.teachers) teacherAccuracy.mlp![seed] = r.teachers[1]!.test_accuracy;
    console.log(
      `seed ${seed} · ${method}: student ${r.student.test_accuracy}${r.baseline ? `, baseline ${r.baseline.test_accuracy}` : ''} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
}

const pct = (v: number | undefined) => (v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);
const mean = (r: Record<number, number>) => seeds.reduce((s, k) => s + (r[k] ?? 0), 0) / seeds.length;
const pts = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)}`;
// Paired with the baseline of the same seed: same split, teacher, transfer set and test digits.
const gains = (r: Row) => seeds.map((s) => pts((r.accuracy[s] ?? 0) - (rows[0]!.accuracy[s] ?? 0))).join(', ');
const table = [
  `| method | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean | vs baseline, per seed (points) |`,
  `|---|${seeds.map(() => '---:').join('|')}|---:|---:|`,
  ...rows.map((r) => `| ${r.method} | ${seeds.map((s) => pct(r.accuracy[s])).join(' | ')} | ${pct(mean(r.accuracy))} | ${r === rows[0] ? '' : gains(r)} |`),
].join('\n');
const section = `## Distillation methods (bench/methods.ts)

\`npx tsx bench/methods.ts --write\` (${backend.name} backend, ${((performance.now() - started) / 60000).toFixed(1)} min on this shared 2-vCPU machine, load
average ${loadAtStart.toFixed(0)} at the start and ${loadavg()[0]!.toFixed(0)} at the end: other engineers' suites ran alongside).
builtin:mnist, seeds ${seeds.join(', ')} (each seed its own split). Teachers: cnn-teacher (test accuracy
${seeds.map((s) => pct(teacherAccuracy.cnn![s])).join(', ')}) and, for the two-teacher row, an MLP 784-256-10
(${seeds.map((s) => pct(teacherAccuracy.mlp![s])).join(', ')}), each trained ${TEACHER_EPOCHS} epochs on ${TEACHER_TRAIN} training digits of the split
and given to every job by id. Student: cnn-student (28×28, 8/16 conv channels) distilled on the first
${TRANSFER} of those digits, ${EPOCHS} epochs, batch 64, Adam 0.005; test: ${TEST} digits unseen by all. Defaults unless
named: T 4, α 0.9, β 1, pair weights 1; hint pairs use a learned 1×1 convolution (16 → 64 channels).
Without logits the student learns from the hard labels plus the named term. Nothing was tuned on
the test digits. Each seed has its own split, teachers and test digits, so compare within a column
(the last column pairs each method with the baseline of the same seed); with ${seeds.length} seed${seeds.length === 1 ? '' : 's'}, gaps of a
point or less between methods do not separate them.

${table}
`;

console.log(`\n${section}`);
if (process.argv.includes('--write')) {
  const path = new URL('./RESULTS.md', import.meta.url);
  const text = await readFile(path, 'utf8');
  const start = text.indexOf('## Distillation methods (bench/methods.ts)');
  const end = start < 0 ? -1 : text.indexOf('\n## ', start + 1);
  const next = start < 0 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, start)}${section}${end < 0 ? '' : text.slice(end)}`;
  await writeFile(path, next);
  console.log('bench/RESULTS.md: Distillation methods section written');
}
