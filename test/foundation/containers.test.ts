// What the container files promise, read without a Docker engine; `npm run test:containers` (test/containers/)
// builds and runs them for real, and `.ci/run` validates the compose file with `docker-compose config`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/cli.js';

interface Service {
  build?: { target?: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  volumes?: string[];
  profiles?: string[];
  stop_grace_period?: string;
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const service = (name: string): Service => {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has no ${name} service`);
  return found;
};

describe('docker-compose.yml', () => {
  it('runs Redis as BullMQ requires in production: AOF on, noeviction', () => {
    const command = service('redis').command?.join(' ') ?? '';
    assert.match(command, /--appendonly yes/);
    assert.match(command, /--maxmemory-policy noeviction/);
    assert.ok(service('redis').healthcheck);
    assert.ok(service('postgres').healthcheck);
  });

  it('migrates once before the API and the workers start, after Postgres is healthy, with `distill migrate`', () => {
    // The runtime image applies the migrations itself: nothing to download at build time (Prisma's schema engine).
    assert.equal(service('migrate').build?.target, 'runtime');
    assert.deepEqual(service('migrate').command, ['node', 'bin/distill.js', 'migrate']);
    assert.equal(service('migrate').depends_on?.postgres?.condition, 'service_healthy');
    for (const name of ['api', 'worker', 'worker-gpu']) {
      const deps = service(name).depends_on ?? {};
      assert.equal(deps.migrate?.condition, 'service_completed_successfully', name);
      assert.equal(deps.postgres?.condition, 'service_healthy', name);
      assert.equal(deps.redis?.condition, 'service_healthy', name);
    }
  });

  it('checks the API on /readyz and shares the artifact volume between the API and the workers', () => {
    // The image's HEALTHCHECK serves the API; a worker, on the same image, serves no HTTP.
    assert.match(dockerfile, /^HEALTHCHECK [^\n]*\\\n[^\n]*\/readyz/m);
    assert.equal(service('api').healthcheck, undefined);
    assert.equal(service('worker').healthcheck?.disable, true);
    for (const name of ['api', 'worker', 'worker-gpu']) {
      const s = service(name);
      assert.ok(s.volumes?.includes('artifacts:/var/lib/distill/artifacts'), name);
      assert.equal(s.environment?.ARTIFACT_DIR, '/var/lib/distill/artifacts', name);
      assert.match(s.environment?.DATABASE_URL ?? '', /@postgres:5432\//, name);
      assert.equal(s.environment?.REDIS_URL, 'redis://redis:6379', name);
    }
    assert.ok('artifacts' in compose.volumes);
    assert.deepEqual(service('worker').command, ['node', 'bin/distill.js', 'worker']);
    assert.deepEqual(service('worker-gpu').profiles, ['gpu']);
    assert.equal(service('worker-gpu').build?.target, 'worker-gpu');
  });

  it('gives each service longer to stop than SHUTDOWN_GRACE_SECONDS, and the API ADMIN_API_KEY', () => {
    for (const name of ['api', 'worker', 'worker-gpu']) {
      const grace = Number(service(name).environment?.SHUTDOWN_GRACE_SECONDS);
      const stop = Number(/^(\d+)s$/.exec(service(name).stop_grace_period ?? '')?.[1]);
      assert.ok(grace > 0 && stop > grace, `${name}: stop_grace_period ${service(name).stop_grace_period} > SHUTDOWN_GRACE_SECONDS ${grace}`);
    }
    assert.equal(service('api').environment?.ADMIN_API_KEY, '${ADMIN_API_KEY:-}');
  });

  it('validates with docker-compose config, where docker-compose is installed', (t) => {
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'gpu', 'config', '-q'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    if (result.error) return t.skip('docker-compose is not installed (.ci/run installs it)');
    assert.equal(result.status, 0, result.stderr);
  });
});

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ image: m[1], name: m[2] }));

  it('has the deps → build → ship → runtime stages and a worker-gpu target; runtime is the default', () => {
    const names = stages.map((s) => s.name);
    for (const name of ['deps', 'build', 'ship', 'worker-gpu', 'runtime']) assert.ok(names.includes(name), name);
    assert.ok(!/# syntax=/.test(dockerfile), 'no frontend image to pull');
    assert.equal(stages.at(-1)?.name, 'runtime', 'the last stage is what `docker build .` gives');
  });

  it('builds the GPU worker on a CUDA 11 (>= 11.2) runtime with cuDNN 8 that NVIDIA still publishes', () => {
    // libtensorflow 2.9.1 opens libcudart.so.11.0 and libcudnn.so.8: no CUDA 12 image serves it.
    assert.ok(stages.some((s) => s.name === 'gpu-base' && s.image === '${CUDA_IMAGE}'));
    const firstFrom = dockerfile.search(/^FROM /m);
    const arg = /^ARG CUDA_IMAGE=(\S+)$/m.exec(dockerfile);
    assert.ok(arg && arg.index < firstFrom, 'CUDA_IMAGE is a global ARG (declared before the first FROM), so FROM can read it');
    const tag = /^nvidia\/cuda:11\.(\d+)\.(\d+)-cudnn8-runtime-ubuntu(\d+\.\d+)(@sha256:[0-9a-f]{64})?$/.exec(arg[1]!);
    assert.ok(tag, `${arg[1]} is an nvidia/cuda 11.x cudnn8 runtime tag`);
    assert.ok(Number(tag[1]) >= 2, 'CUDA 11.2 or newer (what libtensorflow 2.9.1 was built for)');
    // NVIDIA's EOL chart (doc/container_tags.pdf): EOL tags are deleted six months on, and only the latest point
    // release of a toolkit stays; of CUDA 11, only 11.4.3, 11.5.2, 11.6.2, 11.7.1 and 11.8.0 were still listed.
    assert.ok(['4.3', '5.2', '6.2', '7.1', '8.0'].includes(`${tag[1]}.${tag[2]}`), `11.${tag[1]}.${tag[2]} is not a kept point release`);
    assert.notEqual(tag[3], '18.04', 'NVIDIA stopped publishing ubuntu18.04 images');
    assert.match(dockerfile, /libcudart\.so\.11\.0/, 'the comment says what the choice rests on');
    assert.match(dockerfile, /Host driver >= 520/);
  });

  it('installs and builds as .ci/run does, and runs as a non-root user', () => {
    assert.match(dockerfile, /RUN npm ci --ignore-scripts\n/);
    assert.match(dockerfile, /RUN npm rebuild/, 'npm rebuild runs the install scripts npm ci skipped, our postinstall build included');
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.postinstall, 'npm run build');
    for (const target of ['runtime', 'worker-gpu']) {
      const body = dockerfile.split(/^FROM /m).find((s) => new RegExp(`AS ${target}\\n`).test(s)) ?? '';
      assert.match(body, /^USER node$/m, `${target} runs as node`);
    }
    assert.match(dockerfile, /CMD \["node", "bin\/distill\.js", "serve"\]\s*$/);
    assert.match(dockerfile, /tfjs-node-gpu@4\.22\.0/);
    assert.match(dockerfile, /TRAINING_BACKEND=auto/, 'the GPU worker falls back to libtensorflow on the CPU, and says so');
    assert.match(dockerfile, /ln -s \/app\/bin\/distill\.js \/usr\/local\/bin\/distill/, '`distill doctor` runs in the GPU image');
    assert.match(dockerfile, /TF_FORCE_GPU_ALLOW_GROWTH=true/);
  });
});
