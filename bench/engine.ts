// `npm run bench`: training throughput of the engine's workloads on wasm (stock kernels vs ours,
// 1 vs 2 threads), the cpu backend where quick, and the PyTorch reference when python3 has torch.
// Options: --pairs mlp,cnn --batches 128,512 --loops teacher,cached,textbook --seconds 2 --reps 2
//          --threads-list 1,2 --no-stock --no-torch --out FILE.json
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Measurement, parseMicroArgs, runMicro } from './micro.js';
import { runTorchReference, type TorchMeasurement } from './torch-runner.js';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);

function option(name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
}

/** Runs one configuration in its own process (wasm threads are fixed per process). */
const ceilings = new Map<number, number>();

function runChild(threads: number, withCpu: boolean): Promise<Measurement[]> {
  const passOn = argv.filter((a, i) => a !== '--out' && argv[i - 1] !== '--out' && !a.startsWith('--threads'));
  const args = ['--import', 'tsx', self, '--child', ...passOn, '--threads', String(threads), ...(withCpu ? ['--cpu'] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const results: Measurement[] = [];
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('CEILING ')) {
          const c = JSON.parse(line.slice(8)) as { threads: number; gflops: number };
          ceilings.set(c.threads, c.gflops);
          process.stderr.write(`  ${c.threads}t ceiling (1024³ matmul): ${c.gflops.toFixed(1)} GFLOP/s\n`);
        }
        if (!line.startsWith('BENCH ')) continue;
        const m = JSON.parse(line.slice(6)) as Measurement;
        results.push(m);
        process.stderr.write(
          `  ${m.threads}t ${m.pair} b${m.batch} ${m.loop} ${m.kernels}: ${Math.round(m.samplesPerSec)} samples/s, ${m.gflops.toFixed(1)} GFLOP/s\n`,
        );
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(results) : reject(new Error(`benchmark child exited with ${code}`))));
  });
}

const fmt = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : n >= 100 ? String(Math.round(n)) : n.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? `${(a / b).toFixed(2)}×` : '–');

function table(results: Measurement[], torch: TorchMeasurement[]): string {
  const find = (m: Partial<Measurement>): Measurement | undefined => results.find((r) => Object.entries(m).every(([k, v]) => r[k as keyof Measurement] === v));
  const keys = [...new Set(results.map((r) => `${r.pair}|${r.batch}|${r.loop}`))];
  const lines = [
    '| pair | batch | loop | stock wasm 1t | ours 1t | ours 2t | cpu | PyTorch | ours/stock | 2t/1t | best ours/PyTorch | best GFLOP/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const key of keys) {
    const [pair, b, loop] = key.split('|') as [Measurement['pair'], string, Measurement['loop']];
    const batch = Number(b);
    const stock = find({ pair, batch, loop, kernels: 'stock', threads: 1 });
    const one = find({ pair, batch, loop, kernels: 'fast', threads: 1 });
    const two = find({ pair, batch, loop, kernels: 'fast', threads: 2 });
    const cpu = find({ pair, batch, loop, kernels: 'cpu' });
    const pt = torch.find((t) => t.pair === pair && t.batch === batch && t.loop === loop);
    const best = [one, two].filter((m): m is Measurement => !!m).sort((x, y) => y.samplesPerSec - x.samplesPerSec)[0];
    lines.push(
      `| ${pair} | ${batch} | ${loop} | ${fmt(stock?.samplesPerSec)} | ${fmt(one?.samplesPerSec)} | ${fmt(two?.samplesPerSec)} | ${fmt(cpu?.samplesPerSec)} | ${fmt(pt?.samplesPerSec)} | ${ratio(one?.samplesPerSec, stock?.samplesPerSec)} | ${ratio(two?.samplesPerSec, one?.samplesPerSec)} | ${ratio(best?.samplesPerSec, pt?.samplesPerSec)} | ${fmt(best?.gflops)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (argv.includes('--child')) {
    await runMicro(
      parseMicroArgs(argv),
      (m) => console.log(`BENCH ${JSON.stringify(m)}`),
      (gflops) => console.log(`CEILING ${JSON.stringify({ threads: Number(option('threads', '1')), gflops })}`),
    );
    return;
  }
  const threadsList = option('threads-list', '1,2').split(',').map(Number);
  const results: Measurement[] = [];
  for (const [i, threads] of threadsList.entries()) {
    process.stderr.write(`wasm, ${threads} thread(s)…\n`);
    results.push(...(await runChild(threads, i === 0 && !argv.includes('--no-cpu'))));
  }
  const opts = parseMicroArgs(argv);
  const torch = argv.includes('--no-torch') ? [] : await runTorchReference(opts);
  const report = table(results, torch);
  const ceilingLine = [...ceilings].map(([t, g]) => `${t} thread(s) ${g.toFixed(1)} GFLOP/s`).join(', ');
  console.log(`\n${report}\n\nwasm SIMD ceiling (plain 1024³ XNNPACK matmul, same run): ${ceilingLine}\n`);
  const out = option('out', '');
  if (out) writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), ceilings: Object.fromEntries(ceilings), results, torch }, null, 2));
}

await main();
