/**
 * What each exported variant of a student costs: the example jobs (MNIST, CNN student at 16×16 and the
 * Hinton MLP student) run with export { formats: [tfjs, onnx], quantize: [float16, uint8] }, and the
 * report's rows printed as a markdown table. `npx tsx bench/exports.ts [--train N] [--epochs E]`.
 */
import { runJob } from '../src/ml/index.js';
import type { EngineSpec } from '../src/ml/spec.js';
import type { LatencyStats } from '../src/ml/export/latency.js';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const train = arg('train', 4000);
const epochs = arg('epochs', 2);
const exportAll = { formats: ['tfjs', 'onnx'], quantize: ['float16', 'uint8'] } as const;
const jobs: Array<[string, EngineSpec]> = [
  [
    'cnn-student 16×16 (teacher cnn-teacher)',
    {
      dataset: { source: 'builtin:mnist', limit: { train, test: 2000 } },
      teacher: { model: { preset: 'cnn-teacher' }, training: { epochs } },
      student: { model: { preset: 'cnn-student', input_shape: [16, 16, 1] }, training: { epochs } },
      export: { formats: [...exportAll.formats], quantize: [...exportAll.quantize] },
    },
  ],
  [
    'hinton-student 784-800-800-10 (teacher mlp-tiny)',
    {
      dataset: { source: 'builtin:mnist', limit: { train, test: 2000 } },
      teacher: { model: { preset: 'mlp-tiny' }, training: { epochs } },
      student: { model: { preset: 'hinton-student' }, training: { epochs } },
      export: { formats: [...exportAll.formats], quantize: [...exportAll.quantize] },
    },
  ],
];

const ms = (l: LatencyStats) => `${l.median.toFixed(4)} (${l.p25.toFixed(4)}–${l.p75.toFixed(4)}, n=${l.runs})`;
for (const [name, spec] of jobs) {
  const outcome = await runJob(spec, { onEvent: () => {}, backend: 'wasm' });
  const r = outcome.report.exports!;
  console.log(`\n### ${name} — backend ${outcome.report.backend}\n`);
  console.log(
    '| variant | runtime | bytes | test acc. | agrees w/ float | ms/sample b=1 median (p25–p75) | ms/sample b=256 median (p25–p75) | vs float (b1 / b256) |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---|');
  for (const v of r.variants) {
    console.log(
      `| ${v.artifact}/${v.file} | ${v.runtime} | ${v.bytes} | ${v.test_accuracy} | ${v.agreement_with_float} | ${ms(v.latency_ms_per_sample.batch_1)} | ${ms(v.latency_ms_per_sample.batch_256)} | ${v.latency_vs_float ? `${v.latency_vs_float.batch_1} / ${v.latency_vs_float.batch_256}` : '—'} |`,
    );
  }
  console.log(
    `\nONNX checks: ${r.onnx_checks.map((c) => `${c.kind} max|Δ| ${c.max_abs_diff.toExponential(2)} of ${c.max_abs_output.toFixed(2)}, argmax ${c.argmax_agreement}`).join('; ')}`,
  );
}
