import { BLAS_BUILT, LOCAL_AUTO } from '../../support/local-backend.js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../../src/ml/backend/index.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/threaded-wasm.ts', import.meta.url));

interface FixtureOutput {
  threads: number;
  product: number[];
  filterGrad: number[];
}

async function runFixture(threads: number): Promise<FixtureOutput> {
  // A hung pool thread would keep the child alive: the timeout turns that into a failure.
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, String(threads)], { timeout: 60_000 });
  return JSON.parse(stdout) as FixtureOutput;
}

function maxDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - (b[i] ?? NaN))));
}

describe('initBackend', () => {
  it('auto falls through the missing native packages to wasm (with OpenBLAS where the addon built) and says why', async () => {
    const info = await initBackend('auto');
    assert.equal(info.name, LOCAL_AUTO);
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(info.threads, 1);
    assert.equal(info.simd, true);
    assert.match(info.skipped[0] ?? '', /^tensorflow-gpu: .*tfjs-node-gpu/);
    assert.match(info.skipped[1] ?? '', /^tensorflow: .*tfjs-node/);
    assert.ok(info.addedKernels.includes('Conv2DBackpropFilter'));
    assert.deepEqual(info.fixedKernels, ['MaxPoolGrad']);
    assert.deepEqual(
      info.fastKernels,
      BLAS_BUILT ? ['Tile', 'Conv2DBackpropInput', 'Slice'] : ['BatchMatMul', '_FusedMatMul', 'Tile', 'Conv2DBackpropInput', 'Slice'],
    );
    assert.deepEqual(info.blas?.kernels ?? [], BLAS_BUILT ? ['BatchMatMul', '_FusedMatMul'] : []);
  });

  it('is idempotent: a second call returns the active backend', async () => {
    const again = await initBackend('auto');
    assert.equal(again.name, LOCAL_AUTO);
    assert.equal((await initBackend('wasm')).name, 'wasm');
  });

  it('an explicit native choice that cannot load fails, naming the package', async () => {
    await assert.rejects(initBackend('tensorflow'), /tensorflow: .*@tensorflow\/tfjs-node/);
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('an explicit choice switches between wasm and cpu', async () => {
    assert.equal((await initBackend('cpu')).name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal((await initBackend('wasm')).name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('loads a native package when present, and never a second one', async () => {
    // Stand-in for @tensorflow/tfjs-node: registers a backend named 'tensorflow', as the real one does.
    const imported: string[] = [];
    const importModule = async (specifier: string): Promise<unknown> => {
      imported.push(specifier);
      if (specifier === '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find package '${specifier}'`);
      if (!tf.findBackend('tensorflow')) tf.registerBackend('tensorflow', () => new MathBackendCPU());
      return {};
    };
    const info = await initBackend('tensorflow', { importModule });
    assert.equal(info.name, 'tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    await assert.rejects(initBackend('tensorflow-gpu', { importModule }), /only one native tfjs package/);
    assert.deepEqual(imported, ['@tensorflow/tfjs-node']);
    assert.equal((await initBackend('wasm')).name, 'wasm');
    tf.removeBackend('tensorflow');
  });

  it('threads: 2 runs the threaded build, gives the single-threaded results, and the process exits', async () => {
    const [one, two] = await Promise.all([runFixture(1), runFixture(2)]);
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.ok(maxDiff(one.product, two.product) < 1e-5);
    assert.ok(maxDiff(one.filterGrad, two.filterGrad) < 1e-4);
  });
});
