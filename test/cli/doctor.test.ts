// `distill doctor` run as the real CLI. What exists here is real: no native tfjs package, wasm with
// SIMD, no GPU. The GPU probes get stand-ins only where nothing real can run here: an nvidia-smi script
// first on PATH, and files named like the CUDA 11 / cuDNN 8 libraries on LD_LIBRARY_PATH.
import { BLAS_BUILT, LOCAL_AUTO } from '../support/local-backend.js';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Diagnosis } from '../../src/ml/backend/diagnose.js';
import { CUDA_LIBRARIES, DRIVER_LIBRARY } from '../../src/ml/backend/probe.js';
import { spawnCli } from '../support/cli.js';

const DEADLINE_MS = 120_000;

async function doctor(args: string[], env: Record<string, string | undefined> = {}) {
  const cli = spawnCli(['doctor', ...args], { TRAINING_BACKEND: undefined, CUDA_VISIBLE_DEVICES: undefined, ...env });
  const exit = await Promise.race([
    cli.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`distill doctor did not exit within ${DEADLINE_MS} ms:\n${cli.output()}`)), DEADLINE_MS).unref(),
    ),
  ]);
  return { code: exit.code, output: cli.output(), stdout: cli.output().slice(cli.output().indexOf(args.includes('--json') ? '{' : 'training backend')) };
}

/** A stand-in nvidia-smi that answers the query `distill doctor` asks as the real one would (or fails as it does). */
async function fakeNvidiaSmi(dir: string, script: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'nvidia-smi'), `#!/bin/sh\n${script}\n`);
  await chmod(join(dir, 'nvidia-smi'), 0o755);
}

/** Files named as libtensorflow 2.9.1's CUDA libraries; cudart and cuDNN link to versioned names, as installed. */
async function fakeCudaLibraries(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const versioned: Record<string, string> = { 'libcudart.so.11.0': 'libcudart.so.11.8.89', 'libcudnn.so.8': 'libcudnn.so.8.9.6' };
  for (const soname of [...CUDA_LIBRARIES, DRIVER_LIBRARY]) {
    const real = versioned[soname];
    if (real) {
      await writeFile(join(dir, real), '');
      await symlink(real, join(dir, soname));
    } else {
      await writeFile(join(dir, soname), '');
    }
  }
}

describe('distill doctor', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'distill-doctor-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('auto on this machine: wasm, each native backend skipped because its package is not installed', async () => {
    const { code, stdout } = await doctor([]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, new RegExp(`^training backend: ${LOCAL_AUTO} \\(TRAINING_BACKEND=auto\\)$`, 'm'));
    assert.match(stdout, /^tensorflow-gpu +skipped: @tensorflow\/tfjs-node-gpu is not installed$/m);
    assert.match(stdout, /^tensorflow +skipped: @tensorflow\/tfjs-node is not installed$/m);
    if (BLAS_BUILT) {
      assert.match(stdout, /^wasm-blas +picked: OpenBLAS \(\w+ kernels, 1 thread\) for BatchMatMul, _FusedMatMul; wasm SIMD on for the rest$/m);
      assert.match(stdout, /^wasm +not tried: a better backend loaded; it would load$/m);
    } else {
      assert.match(stdout, /^wasm-blas +skipped: distill-blas is not installed/m);
      assert.match(stdout, /^wasm +picked: SIMD on, 1 thread$/m);
    }
    assert.match(stdout, /^cpu +not tried: a better backend loaded; it would load$/m);
    assert.match(stdout, /^GPU \(not usable: .+\)$/m);
    assert.match(stdout, /^ {2}libcudart\.so\.11\.0 +not found/m);
    assert.match(stdout, /^wasm SIMD +yes$/m);
    assert.match(stdout, /^wasm threads +1 \(threaded SIMD build available; \d+ cores\)$/m);
    assert.match(stdout, BLAS_BUILT ? /^native BLAS +built: .*distill_blas\.node$/m : /^native BLAS +not built/m);
  });

  it('TRAINING_BACKEND=cpu: cpu, and says what the better ones would do', async () => {
    const { code, stdout } = await doctor(['--json'], { TRAINING_BACKEND: 'cpu' });
    assert.equal(code, 0, stdout);
    const d = JSON.parse(stdout) as Diagnosis;
    assert.equal(d.choice, 'cpu');
    assert.equal(d.backend, 'cpu');
    assert.equal(d.error, null);
    assert.deepEqual(
      d.candidates.map((c) => [c.backend, c.status]),
      [
        ['tensorflow-gpu', 'not tried'],
        ['tensorflow', 'not tried'],
        ['wasm-blas', 'not tried'],
        ['wasm', 'not tried'],
        ['cpu', 'picked'],
      ],
    );
    assert.match(d.candidates[0]?.reason ?? '', /TRAINING_BACKEND=cpu; it would not load: @tensorflow\/tfjs-node-gpu is not installed/);
    assert.match(d.candidates[3]?.reason ?? '', /it would load$/);
    assert.match(d.candidates[2]?.reason ?? '', BLAS_BUILT ? /it would load$/ : /it would not load: distill-blas is not installed/);
    assert.equal(d.facts.blas.built, BLAS_BUILT);
    assert.equal(d.facts.wasm.simd, true);
  });

  for (const [backend, pkg] of [
    ['tensorflow', '@tensorflow/tfjs-node'],
    ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
  ] as const) {
    it(`TRAINING_BACKEND=${backend}, not installed: exits 1 saying ${pkg} is not installed`, async () => {
      const { code, stdout } = await doctor([], { TRAINING_BACKEND: backend });
      assert.equal(code, 1, stdout);
      assert.match(stdout, new RegExp(`^training backend: none — TRAINING_BACKEND=${backend} cannot load: ${pkg.replace('/', '\\/')} is not installed$`, 'm'));
      assert.match(stdout, new RegExp(`^${backend} +failed: ${pkg.replace('/', '\\/')} is not installed$`, 'm'));
      const json = await doctor(['--json'], { TRAINING_BACKEND: backend });
      assert.equal(json.code, 1);
      const d = JSON.parse(json.stdout) as Diagnosis;
      assert.equal(d.backend, null);
      assert.match(d.error ?? '', new RegExp(`${pkg.replace('/', '\\/')} is not installed`));
      assert.equal(d.predicted.backend, null, 'the facts alone predict the same');
    });
  }

  it('reads GPUs from nvidia-smi and finds the CUDA libraries with their versions; without the GPU package, still wasm', async () => {
    const bin = join(tmp, 'gpu-bin');
    const lib = join(tmp, 'gpu-lib');
    await fakeNvidiaSmi(bin, `echo "0, NVIDIA H100 80GB HBM3, 81559, 550.54.15"\necho "1, NVIDIA A100-SXM4-40GB, 40960, 550.54.15"`);
    await fakeCudaLibraries(lib);
    const env = { PATH: `${bin}${delimiter}${process.env.PATH}`, LD_LIBRARY_PATH: lib };
    const { code, stdout } = await doctor(['--json'], env);
    assert.equal(code, 0, stdout);
    const d = JSON.parse(stdout) as Diagnosis;
    assert.equal(d.facts.gpu.usable, true, JSON.stringify(d.facts.gpu));
    assert.equal(d.facts.gpu.source, 'nvidia-smi');
    assert.deepEqual(d.facts.gpu.gpus, [
      { index: 0, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559, driver: '550.54.15' },
      { index: 1, name: 'NVIDIA A100-SXM4-40GB', memoryMiB: 40960, driver: '550.54.15' },
    ]);
    const cuda = Object.fromEntries(d.facts.gpu.cudaLibraries.map((l) => [l.soname, l]));
    assert.equal(cuda['libcudart.so.11.0']?.version, '11.8.89');
    assert.equal(cuda['libcudart.so.11.0']?.path, join(lib, 'libcudart.so.11.0'));
    assert.equal(cuda['libcudnn.so.8']?.version, '8.9.6');
    assert.ok(d.facts.gpu.cudaLibraries.every((l) => l.found));
    assert.equal(d.facts.gpu.driverLibrary.found, true);
    assert.equal(d.backend, LOCAL_AUTO);
    assert.equal(d.candidates[0]?.reason, '@tensorflow/tfjs-node-gpu is not installed');

    const human = await doctor([], env);
    assert.match(human.stdout, /^GPU \(usable\)$/m);
    assert.match(human.stdout, /^ {2}GPU 0 +NVIDIA H100 80GB HBM3, 81559 MiB, driver 550\.54\.15$/m);
    assert.match(human.stdout, /^ {2}libcudnn\.so\.8 +found .+, version 8\.9\.6$/m);
  });

  it('a failing nvidia-smi, an old driver and a hidden GPU are each said', async () => {
    const failing = join(tmp, 'failing-bin');
    await fakeNvidiaSmi(failing, `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."\nexit 9`);
    const { code, stdout } = await doctor(['--json'], { PATH: `${failing}${delimiter}${process.env.PATH}`, TRAINING_BACKEND: 'tensorflow-gpu' });
    assert.equal(code, 1);
    const d = JSON.parse(stdout) as Diagnosis;
    assert.equal(d.facts.gpu.usable, false);
    assert.match(d.facts.gpu.why ?? '', /no GPU visible \(nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver\.\)/);

    const old = join(tmp, 'old-bin');
    const lib = join(tmp, 'old-lib');
    await fakeNvidiaSmi(old, 'echo "0, Tesla T4, 15360, 515.65.01"');
    await fakeCudaLibraries(lib);
    const oldDriver = JSON.parse((await doctor(['--json'], { PATH: `${old}${delimiter}${process.env.PATH}`, LD_LIBRARY_PATH: lib })).stdout) as Diagnosis;
    assert.equal(oldDriver.facts.gpu.usable, true);
    assert.match(oldDriver.facts.gpu.driverNote ?? '', /515\.65\.01 predates CUDA 11\.8 .*NVIDIA_DISABLE_REQUIRE=1/);

    const hidden = JSON.parse(
      (await doctor(['--json'], { PATH: `${old}${delimiter}${process.env.PATH}`, LD_LIBRARY_PATH: lib, CUDA_VISIBLE_DEVICES: '-1' })).stdout,
    ) as Diagnosis;
    assert.equal(hidden.facts.gpu.usable, false);
    assert.equal(hidden.facts.gpu.why, 'CUDA_VISIBLE_DEVICES="-1" hides every GPU');
  });
});
