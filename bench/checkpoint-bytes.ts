// `npx tsx bench/checkpoint-bytes.ts [--epochs 20] [--teacher mlp-tiny --student mlp-tiny --features 16 --samples 3000]`: the bytes a finished job keeps, before and after
// checkpoints were made to live only while useful (issue 15). Runs one job through the real API and a
// real worker (the test stack: its own database, queue and artifact directory), then measures:
//   - written: every checkpoint the job wrote (the bytes of its checkpoint events), which is what the
//     server kept forever before: one checkpoint per epoch of every phase;
//   - peak: the most checkpoint bytes on disk at once while it ran (read at each checkpoint event);
//   - kept: what the job's folder holds once it ended (its results), and its checkpoint rows.
import { spawnSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { followJob, request, waitFor } from '../test/support/http.js';
import { longerJob } from '../test/support/specs.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '20' },
    teacher: { type: 'string', default: 'mlp-tiny' },
    student: { type: 'string', default: 'mlp-tiny' },
    features: { type: 'string', default: '16' },
    samples: { type: 'string', default: '3000' },
  },
});
const epochs = Number(values.epochs);
process.env.DISTILL_TEST_RUN ??= `bench_${Math.floor(Date.now() / 1000)}`;
const setup = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-setup.ts'], { stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);
const { startStack } = await import('../test/support/stack.js');

async function bytesUnder(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let sum = 0;
  for (const name of await readdir(path)) sum += await bytesUnder(join(path, name));
  return sum;
}

const stack = await startStack();
try {
  const base = longerJob(epochs);
  const spec = {
    ...base,
    dataset: { source: 'builtin:synthetic', options: { samples: Number(values.samples), classes: 4, features: Number(values.features) } },
    teacher: { model: { preset: values.teacher }, training: { epochs, learning_rate: 0.01 } },
    student: { model: { preset: values.student }, training: { ...base.student.training, epochs } },
  };
  const id = (await request(stack.url, 'POST', '/v1/jobs', spec)).body.id as string;
  const ws = await followJob(stack.wsUrl, id);
  const checkpoints = join(stack.config.ARTIFACT_DIR, 'jobs', id, 'checkpoints');
  let written = 0;
  let count = 0;
  let peak = 0;
  for (const seen = new Set<number>(); ; ) {
    const e = await ws.waitForEvent(
      (e) => (e.type === 'checkpoint' && !seen.has(e.seq)) || (e.type === 'status' && ['succeeded', 'failed', 'cancelled'].includes(e.data.status as string)),
      600_000,
    );
    if (e.type === 'status') break;
    seen.add(e.seq);
    written += e.data.bytes as number;
    count += 1;
    peak = Math.max(peak, await bytesUnder(checkpoints));
  }
  const job = await waitFor(
    'the job to end',
    async () => {
      const j = (await request(stack.url, 'GET', `/v1/jobs/${id}`)).body;
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) && j;
    },
    60_000,
  );
  const results = await bytesUnder(join(stack.config.ARTIFACT_DIR, 'jobs', id));
  const rows = await stack.db.checkpoint.count({ where: { jobId: id } });
  const mb = (n: number) => (n / 1e6).toFixed(2);
  console.log(
    JSON.stringify({
      status: job.status,
      epochs_per_phase: epochs,
      checkpoints_written: count,
      written_bytes: written,
      peak_checkpoint_bytes: peak,
      kept_bytes: results,
      checkpoint_rows_left: rows,
    }),
  );
  console.log(
    `| ${values.teacher} → ${values.student}, ${epochs} epochs each, ${values.samples}×${values.features} | ${count} | ${mb(written + results)} MB | ${mb(results)} MB | ${mb(peak)} MB | ${rows} |`,
  );
} finally {
  await stack.stop();
  spawnSync(process.execPath, ['--import', 'tsx', 'test/support/global-teardown.ts'], { stdio: 'inherit' });
}
