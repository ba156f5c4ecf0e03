// No Docker engine runs here, so these read what the container files promise; `.ci/run` also validates the
// compose file with `docker-compose config`, and the Dockerfile runs the same install and build as `.ci/run`.
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
  healthcheck?: { test: string[] };
  volumes?: string[];
  profiles?: string[];
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

  it('migrates once before the API and the workers start, after Postgres is healthy', () => {
    assert.equal(service('migrate').build?.target, 'migrate');
    assert.equal(service('migrate').depends_on?.postgres?.condition, 'service_healthy');
    for (const name of ['api', 'worker', 'worker-gpu']) {
      const deps = service(name).depends_on ?? {};
      assert.equal(deps.migrate?.condition, 'service_completed_successfully', name);
      assert.equal(deps.postgres?.condition, 'service_healthy', name);
      assert.equal(deps.redis?.condition, 'service_healthy', name);
    }
  });

  it('checks the API on /readyz and shares the artifact volume between the API and the workers', () => {
    assert.match(service('api').healthcheck?.test.join(' ') ?? '', /\/readyz/);
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

  it('has the deps → build → runtime stages, a migrate target and a worker-gpu target; runtime is the default', () => {
    const names = stages.map((s) => s.name);
    for (const name of ['deps', 'build', 'prod-deps', 'migrate', 'worker-gpu', 'runtime']) assert.ok(names.includes(name), name);
    assert.equal(stages.at(-1)?.name, 'runtime', 'the last stage is what `docker build .` gives');
    assert.ok(stages.some((s) => s.name === 'gpu-base' && s.image === 'nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04'));
  });

  it('installs and builds as .ci/run does, and runs as a non-root user', () => {
    assert.match(dockerfile, /RUN npm ci --ignore-scripts\n/);
    assert.match(dockerfile, /RUN npm rebuild/, "npm rebuild runs the install scripts npm ci skipped, our postinstall build included");
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.postinstall, 'npm run build');
    for (const target of ['runtime', 'worker-gpu', 'migrate']) {
      const body = dockerfile.split(/^FROM /m).find((s) => new RegExp(`AS ${target}\\n`).test(s)) ?? '';
      assert.match(body, /^USER node$/m, `${target} runs as node`);
    }
    assert.match(dockerfile, /CMD \["node", "bin\/distill\.js", "serve"\]\s*$/);
    assert.match(dockerfile, /tfjs-node-gpu@4\.22\.0/);
    assert.match(dockerfile, /TRAINING_BACKEND=tensorflow-gpu/);
    assert.match(dockerfile, /TF_FORCE_GPU_ALLOW_GROWTH=true/);
  });
});
