// Soak: 50 small jobs back to back through one worker process. Its resident memory and open file
// descriptors stay flat, every training child it forked is gone, and the tfjs tensors each job leaves
// at its end (reported by its child just before `done`, logged by the worker) stay flat too.
//
// The worker process runs no tfjs ops: each attempt's tensors live in a child process that exits when
// the attempt ends, so they cannot accumulate from one job to the next; what is checked per job is that
// one job does not leave more behind than another.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../support/stack.js';
import { alive, FAULT_ENV, rssMiB, submitAll } from './harness.js';
import { checkInvariants } from './invariants.js';

const JOBS = 50;
/** Growth allowed between the first and the last ten jobs (medians of the worker's RSS after each job). */
const RSS_BOUND_MIB = 40;
const FD_BOUND = 8;
/** Jobs of one shape leave the same tensors behind (the engine's own caches); a leak grows with the job. */
const TENSOR_SPREAD = 0;

const tinyJob = (i: number) => ({
  name: `soak-${i}`,
  dataset: { source: 'builtin:synthetic', options: { samples: 400, classes: 4, features: 8 } },
  teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 1, learning_rate: 0.01 } },
  student: { model: { preset: 'linear' }, training: { epochs: 1, learning_rate: 0.01 } },
  distillation: { temperature: 4, alpha: 0.7 },
  seed: i,
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

describe('soak: 50 jobs back to back through one worker', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 1, env: { ...FAULT_ENV } });
  });
  after(async () => {
    await stack?.stop();
  });

  test(`worker RSS grows by at most ${RSS_BOUND_MIB} MiB from the first ten jobs to the last ten; fds and tensors flat; children gone`, async () => {
    const worker = stack.workers[0]!;
    const pid = worker.process.pid!;
    const fds = async () => (await readdir(`/proc/${pid}/fd`)).length;
    const started = Date.now();
    const ids = await submitAll(
      stack.url,
      Array.from({ length: JOBS }, (_, i) => tinyJob(i)),
    );

    // One sample of the worker after each job ends (the job's child is gone by then, or going).
    const samples: { rss: number; fds: number }[] = [];
    const deadline = Date.now() + 20 * 60_000;
    while (samples.length < JOBS) {
      assert.ok(Date.now() < deadline, `only ${samples.length} of ${JOBS} jobs ended in 20 minutes`);
      const ended = await stack.db.job.count({ where: { id: { in: ids }, status: { in: ['succeeded', 'failed', 'cancelled'] } } });
      while (samples.length < ended) samples.push({ rss: await rssMiB(pid), fds: await fds() });
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (Date.now() - started) / 1000;

    const first = samples.slice(0, 10);
    const last = samples.slice(-10);
    const rssFirst = median(first.map((s) => s.rss));
    const rssLast = median(last.map((s) => s.rss));
    const fdFirst = median(first.map((s) => s.fds));
    const fdLast = median(last.map((s) => s.fds));
    console.log(
      `${JOBS} jobs in ${seconds.toFixed(0)} s (${(seconds / JOBS).toFixed(1)} s/job); worker RSS median ${rssFirst.toFixed(1)} MiB after jobs 1-10, ` +
        `${rssLast.toFixed(1)} MiB after jobs 41-50 (max ${Math.max(...samples.map((s) => s.rss)).toFixed(1)}); fds ${fdFirst} -> ${fdLast}`,
    );
    console.log(`RSS after each job (MiB): ${samples.map((s) => s.rss.toFixed(0)).join(' ')}`);
    assert.ok(rssLast - rssFirst <= RSS_BOUND_MIB, `worker RSS grew ${(rssLast - rssFirst).toFixed(1)} MiB (bound ${RSS_BOUND_MIB})`);
    assert.ok(fdLast - fdFirst <= FD_BOUND, `worker fds grew from ${fdFirst} to ${fdLast}`);

    const children = worker.logs.filter((l) => l.msg === 'training child started').map((l) => l.childPid as number);
    assert.equal(children.length, JOBS, 'one child per job');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(children.filter(alive), [], 'every training child exited');

    const tensors = worker.logs.filter((l) => l.msg === 'training child ended').map((l) => l.tensors as number);
    assert.equal(tensors.length, JOBS, 'every child reported its tensors at the end');
    console.log(`tfjs tensors left at the end of each job: ${[...new Set(tensors)].join(', ')}`);
    assert.ok(
      median(tensors.slice(-10)) <= median(tensors.slice(0, 10)),
      `tensors left grew from ${median(tensors.slice(0, 10))} to ${median(tensors.slice(-10))}`,
    );
    assert.ok(Math.max(...tensors) - Math.min(...tensors) <= TENSOR_SPREAD, `tensors left vary from ${Math.min(...tensors)} to ${Math.max(...tensors)}`);

    const summaries = await checkInvariants(stack, ids);
    assert.ok(
      summaries.every((s) => s.attempts === 1),
      'no job needed a retry',
    );
  });
});
