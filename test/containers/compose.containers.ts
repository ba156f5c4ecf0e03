/**
 * The README's container section, run as a user would: `docker compose up --build` of the project's own
 * Dockerfile and docker-compose.yml, unchanged. Needs a Docker engine and the base images the files name; where no
 * registry is reachable (CI here), `scripts/containers/stand-in-images.sh` builds local stand-ins under the same
 * tags first (.ci/run does), so what the official base images do differently is not tested here.
 *
 * `npm run test:containers` (not part of `npm test`). Checks, in order, on one compose project:
 * the runtime image (size printed, goal <= 350 MB; no compilers or npm; non-root; OpenBLAS present), the stack up
 * and healthy, a job submitted over HTTP with ADMIN_API_KEY, followed over the WebSocket to `succeeded` and its
 * student downloaded; two workers, one SIGKILLed mid-job and the job finishing on the other; `docker compose
 * stop` letting a running job checkpoint and exit within the grace period (it resumes after `up`); `down -v`
 * leaving nothing behind. The GPU worker target is built where its base image can be fetched, and otherwise the
 * test says plainly why not.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { upgrade } from '../support/ws.js';
import { longerJob, QUICK_JOB } from '../support/specs.js';
import { ComposeProject, DOCKER, freePort, run, runOk } from './docker.js';

const IMAGE = 'distill-server';
const GPU_BASE = 'nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04';
const SIZE_GOAL_MB = 350;
/** A cold build here installs the toolchain and every dependency; a warm one compiles our sources again. */
const BUILD_DEADLINE_MS = 10 * 60_000;
/** Postgres and Redis healthy, the migrations applied, the API listening, on a loaded two-core machine. */
const HEALTHY_DEADLINE_MS = 4 * 60_000;
/** A small job on the wasm backend takes seconds; a loaded machine, and a resumed attempt, take longer. */
const JOB_DEADLINE_MS = 5 * 60_000;
/** BullMQ hands a dead worker's job on once its lock (30 s, src/worker/worker.ts) expires; then it runs again. */
const HANDOVER_DEADLINE_MS = JOB_DEADLINE_MS + 60_000;
/** Every service's stop_grace_period is 40 s; compose stops them in dependency order. */
const STOP_DEADLINE_MS = 3 * 60_000;

const adminKey = `dsk_${randomBytes(32).toString('base64url')}`;
let project: ComposeProject;
let base = '';
/** The worker container the SIGKILL step killed (exit code 137 by design). */
let killed = '';

/** An API call with the admin key; a refusal that says to retry (503 overloaded, 429) is retried as a client would. */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; bytes: Buffer }> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const retryAfter = Number(response.headers.get('retry-after') ?? 'NaN');
    if ((response.status === 503 || response.status === 429) && Number.isFinite(retryAfter) && attempt < 5) {
      await sleep(Math.max(1, retryAfter) * 1000);
      continue;
    }
    const json = (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(bytes.toString()) : undefined;
    return { status: response.status, body: json, bytes };
  }
}

async function until<T>(what: string, deadlineMs: number, check: () => Promise<T | undefined | false>, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function submit(body: object): Promise<string> {
  const created = await api('POST', '/v1/jobs', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id as string;
}

const job = async (id: string) => (await api('GET', `/v1/jobs/${id}`)).body;
const untilStatus = (id: string, statuses: string[], deadlineMs: number) =>
  until(`job ${id} to be ${statuses.join(' or ')}`, deadlineMs, async () => {
    const current = await job(id);
    return statuses.includes(current.status) && current;
  });
type Event = { seq: number; type: string; data: Record<string, any> };
const events = async (id: string): Promise<Event[]> => (await api('GET', `/v1/jobs/${id}/events?limit=1000`)).body.data;
/** A distillation checkpoint and a batch after it: the job is mid-epoch, with progress to lose. */
const untilMidDistillation = (id: string) =>
  until(
    `job ${id} past a distillation checkpoint`,
    JOB_DEADLINE_MS,
    async () => {
      const all = await events(id);
      const checkpoint = all.filter((e) => e.type === 'checkpoint' && e.data.phase === 'distilling').at(-1);
      return checkpoint && all.some((e) => e.seq > checkpoint.seq && e.type === 'metrics' && e.data.phase === 'distilling') && checkpoint;
    },
    250,
  );

/** Which worker container started the job's attempt (its log says so). */
async function workerOf(id: string, attempt: number): Promise<string> {
  return until(`a worker to start attempt ${attempt} of ${id}`, JOB_DEADLINE_MS, async () => {
    for (const container of await project.containers('worker')) {
      const logs = await project.jsonLogs(container);
      if (logs.some((l) => l.jobId === id && l.msg === 'training child started' && l.attempt === attempt)) return container;
    }
    return undefined;
  });
}

/** A job long enough to be interrupted mid-distillation on a fast machine, short enough to finish after. */
const interruptibleJob = (name: string) => ({ ...longerJob(20), name });

describe('the compose stack, as the README runs it', () => {
  let failed = false;
  const step = (name: string, body: () => Promise<void>) =>
    test(name, async () => {
      try {
        await body();
      } catch (err) {
        failed = true;
        throw err;
      }
    });

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    project = new ComposeProject(`distillci${randomBytes(4).toString('hex')}`, { DISTILL_HTTP_PORT: String(port), ADMIN_API_KEY: adminKey });
    const engine = await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], { deadlineMs: 30_000 });
    assert.equal(engine.code, 0, `no Docker engine answers (.ci/run starts one): ${engine.stderr}`);
    console.log(`Docker engine ${engine.stdout.trim()}, compose project ${project.name}, API on ${base}`);
  });

  after(async () => {
    if (failed) {
      const logs = await project.compose(['logs', '--no-color', '--tail', '60'], 60_000).catch((err: Error) => ({ stdout: err.message, stderr: '' }));
      console.log(`--- the stack's last log lines ---\n${logs.stdout}${logs.stderr}`);
    }
    await project.compose(['down', '-v', '--remove-orphans', '--timeout', '5'], STOP_DEADLINE_MS).catch((err) => console.log(String(err)));
  });

  step('builds the runtime image: under the size goal, no compilers or npm, runs as node, carries OpenBLAS', async () => {
    const build = await project.compose(['build'], BUILD_DEADLINE_MS);
    const bytes = await project.inspect<number>(IMAGE, '.Size');
    const mb = bytes / 1e6;
    console.log(`images built in ${build.seconds.toFixed(0)} s; ${IMAGE} is ${mb.toFixed(0)} MB (goal <= ${SIZE_GOAL_MB} MB)`);
    assert.ok(mb <= SIZE_GOAL_MB, `${IMAGE} is ${mb.toFixed(0)} MB, over the ${SIZE_GOAL_MB} MB goal`);

    const probe = await runOk(
      DOCKER,
      [
        'run',
        '--rm',
        '--entrypoint',
        'sh',
        IMAGE,
        '-c',
        'id -u; for t in gcc g++ cc make python3 npm npx; do command -v $t; done; ls /usr/lib/x86_64-linux-gnu | grep -c "^libopenblas" || true',
      ],
      { deadlineMs: 60_000 },
    );
    const [uid, ...rest] = probe.stdout.trim().split('\n');
    assert.equal(uid, '1000', 'runs as the node user');
    const openblas = Number(rest.pop());
    assert.deepEqual(rest, [], `no build tools in the runtime image: found ${rest.join(', ')}`);
    assert.ok(openblas > 0, 'the OpenBLAS runtime library is installed');
    const health = await project.inspect<{ Test: string[] } | null>(IMAGE, '.Config.Healthcheck');
    assert.match(health?.Test.join(' ') ?? '', /\/readyz/, 'the image has a HEALTHCHECK on /readyz');
    assert.deepEqual(await project.inspect<string[]>(IMAGE, '.Config.Entrypoint'), ['/usr/bin/tini', '--'], 'an init process forwards signals');
  });

  step('the GPU worker target: built where its base image can be fetched, else says why not', async () => {
    await project.compose(['--profile', 'gpu', 'config', '-q'], 60_000);
    const local = await run(DOCKER, ['image', 'inspect', GPU_BASE], { deadlineMs: 30_000 });
    const pulled = local.code === 0 ? local : await run(DOCKER, ['pull', GPU_BASE], { deadlineMs: 120_000 });
    if (pulled.code !== 0) {
      console.log(
        `NOT BUILT: worker-gpu. Its base image ${GPU_BASE} is not on this machine and cannot be pulled ` +
          `(${pulled.stderr.trim().split('\n').at(-1)}), and its npm install downloads libtensorflow from ` +
          "storage.googleapis.com, which this machine cannot reach either; no stand-in can replace NVIDIA's CUDA " +
          'and cuDNN libraries. Built and tested: the runtime image (API, CPU worker, migrations).',
      );
      return;
    }
    const build = await project.compose(['--profile', 'gpu', 'build', 'worker-gpu'], BUILD_DEADLINE_MS);
    console.log(`worker-gpu built in ${build.seconds.toFixed(0)} s`);
  });

  step('`docker compose up --build`: migrated, healthy, the API answers with ADMIN_API_KEY', async () => {
    const up = await project.compose(['up', '--build', '--detach'], BUILD_DEADLINE_MS);
    const [apiContainer] = await project.containers('api');
    assert.ok(apiContainer, 'an api container');
    await until(
      'the api container to be healthy',
      HEALTHY_DEADLINE_MS,
      async () => (await project.inspect<{ Status: string }>(apiContainer, '.State.Health')).Status === 'healthy',
    );
    console.log(`up --build and healthy in ${up.seconds.toFixed(0)} s (+ health)`);
    const [migrate] = await project.containers('migrate');
    assert.equal(await project.inspect<number>(migrate!, '.State.ExitCode'), 0, 'the migrate service ran and exited 0');
    assert.equal((await api('GET', '/v1/jobs')).status, 200);
    const anonymous = await fetch(`${base}/v1/jobs`);
    assert.equal(anonymous.status, 401);
  });

  step('a job submitted over HTTP is followed over the WebSocket to succeeded; its student downloads', async () => {
    const started = Date.now();
    const id = await submit({ ...QUICK_JOB, name: 'compose-quick' });
    const socket = await upgrade(`${base.replace(/^http/, 'ws')}/v1/jobs/${id}/events`, { authorization: `Bearer ${adminKey}` });
    assert.equal(socket.kind, 'open');
    if (socket.kind !== 'open') return;
    const last = await socket.waitFor((m) => m.type === 'status' && ['succeeded', 'failed', 'cancelled'].includes(m.data.status), JOB_DEADLINE_MS);
    assert.equal(last.data.status, 'succeeded', JSON.stringify(socket.messages.slice(-3)));
    assert.equal((await socket.closed).code, 1000, 'the socket closes normally after the terminal event');
    const done = await job(id);
    console.log(
      `job ${id} succeeded in ${((Date.now() - started) / 1000).toFixed(1)} s on backend ${done.backend}; student accuracy ${done.result?.student?.test_accuracy}`,
    );
    // The runtime image carries OpenBLAS and the native addon: auto picks the native CPU path, and the report says so.
    assert.equal(done.backend, 'wasm-blas', 'the image trains on the native CPU path (wasm-blas)');
    assert.ok(done.result?.compute?.blas, `the report names the OpenBLAS kernels: ${JSON.stringify(done.result?.compute)}`);

    const model = await api('GET', `/v1/jobs/${id}/artifacts/student/model.json`);
    assert.equal(model.status, 200);
    const manifest = model.body.weightsManifest as { paths: string[] }[];
    assert.ok(manifest.length > 0 && model.body.modelTopology, 'a Layers model');
    for (const path of manifest.flatMap((group) => group.paths)) {
      const weights = await api('GET', `/v1/jobs/${id}/artifacts/student/${path}`);
      assert.equal(weights.status, 200, path);
      assert.ok(weights.bytes.length > 0, `${path} has the weights`);
    }
  });

  step('two workers: one SIGKILLed mid-job, the job finishes on the other', async () => {
    await project.compose(['up', '--detach', '--scale', 'worker=2'], HEALTHY_DEADLINE_MS);
    await until('two worker containers running', HEALTHY_DEADLINE_MS, async () => {
      const running = await Promise.all((await project.containers('worker')).map((c) => project.inspect<boolean>(c, '.State.Running')));
      return running.filter(Boolean).length === 2;
    });
    const id = await submit(interruptibleJob('compose-kill'));
    const victim = await workerOf(id, 1);
    await untilMidDistillation(id);
    // Its restart policy would bring it back, and it could take the job again: this one is gone for good.
    await runOk(DOCKER, ['update', '--restart', 'no', victim], { deadlineMs: 30_000 });
    await runOk(DOCKER, ['kill', '--signal', 'KILL', victim], { deadlineMs: 30_000 });
    killed = victim;
    const killedAt = Date.now();
    assert.equal(await project.inspect<number>(victim, '.State.ExitCode'), 137, 'killed, not stopped');

    const done = await untilStatus(id, ['succeeded', 'failed', 'cancelled'], HANDOVER_DEADLINE_MS);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error ?? null));
    assert.equal(done.attempts, 2, 'a second attempt ran it to the end');
    const survivor = await workerOf(id, 2);
    assert.notEqual(survivor, victim);
    console.log(`job ${id} finished on the other worker ${((Date.now() - killedAt) / 1000).toFixed(0)} s after the kill`);
  });

  step('`docker compose stop`: a running job checkpoints, every process exits within its grace period; after `up` it resumes', async () => {
    const id = await submit(interruptibleJob('compose-stop'));
    const worker = await workerOf(id, 1);
    const checkpoint = await untilMidDistillation(id);
    const stop = await project.compose(['stop'], STOP_DEADLINE_MS);
    console.log(`docker compose stop took ${stop.seconds.toFixed(1)} s`);
    for (const service of ['api', 'worker']) {
      for (const container of await project.containers(service)) {
        const state = await project.inspect<{ Running: boolean; ExitCode: number }>(container, '.State');
        assert.equal(state.Running, false, `${service} ${container.slice(0, 12)} stopped`);
        // SIGKILL at the end of stop_grace_period would read 137 (as the worker killed above does).
        if (container !== killed) assert.equal(state.ExitCode, 0, `${service} ${container.slice(0, 12)} exited by itself within its grace period`);
      }
    }
    const logs = await project.jsonLogs(worker);
    assert.ok(
      logs.some((l) => l.jobId === id && l.msg === 'training child ended'),
      'the worker saw its training child end before it exited',
    );

    await project.compose(['up', '--detach'], HEALTHY_DEADLINE_MS);
    const [apiContainer] = await project.containers('api');
    await until(
      'the api container to be healthy again',
      HEALTHY_DEADLINE_MS,
      async () => (await project.inspect<{ Status: string }>(apiContainer!, '.State.Health')).Status === 'healthy',
    );
    const done = await untilStatus(id, ['succeeded', 'failed', 'cancelled'], JOB_DEADLINE_MS);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error ?? null));
    const all = await events(id);
    const statuses = all.filter((e) => e.type === 'status').map((e) => [e.data.status, e.data.reason ?? e.data.attempt ?? null]);
    assert.deepEqual(statuses, [
      ['queued', null],
      ['running', 1],
      ['queued', 'worker_shutdown'],
      ['running', 2],
      ['succeeded', 2],
    ]);
    const second = all.findIndex((e) => e.type === 'status' && e.data.status === 'running' && e.data.attempt === 2);
    const saved = all
      .slice(0, second)
      .filter((e) => e.type === 'checkpoint')
      .at(-1);
    assert.ok(saved && Number(saved.data.epoch) >= Number(checkpoint.data.epoch), 'the last checkpoint before the stop is at least where the job was');
    const resumedAt = all.slice(second).find((e) => e.type === 'epoch' && e.data.phase === 'distilling');
    assert.equal(Number(resumedAt?.data.epoch), Number(saved.data.epoch) + 1, 'resumed at the epoch after its last checkpoint');
  });

  step('`docker compose down -v` leaves no container, volume or network behind', async () => {
    const down = await project.compose(['down', '-v', '--remove-orphans'], STOP_DEADLINE_MS);
    console.log(`down -v took ${down.seconds.toFixed(1)} s`);
    assert.deepEqual(await project.leftovers(), []);
  });
});
