// tensorflow-gpu needs a usable GPU; without one, the GPU package's libtensorflow runs on the CPU and is
// named `tensorflow`. No native package or GPU exists here: the package and the GPU probe get stand-ins
// (the package registers a backend named 'tensorflow', as the real one does). Its own file: a native
// package, once loaded, stays loaded for the process.
import { LOCAL_AUTO } from '../../support/local-backend.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../../src/ml/backend/index.js';
import type { GpuProbe } from '../../../src/ml/backend/gpu-probe.js';
import { predictBackend, probeBackends, type BackendFacts } from '../../../src/ml/backend/probe.js';

const library = (soname: string) => ({ soname, found: true, path: `/usr/local/cuda/lib64/${soname}` });
const withGpu: GpuProbe = {
  usable: true,
  source: 'nvidia-smi',
  gpus: [{ index: 0, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559, driver: '550.54.15' }],
  driverLibrary: library('libcuda.so.1'),
  cudaLibraries: [library('libcudart.so.11.0'), library('libcudnn.so.8')],
};
const withoutGpu: GpuProbe = { ...withGpu, usable: false, why: 'no GPU visible (nvidia-smi failed: No devices were found)', gpus: [] };

const imported: string[] = [];
const onlyGpuPackage = async (specifier: string): Promise<unknown> => {
  imported.push(specifier);
  if (specifier !== '@tensorflow/tfjs-node-gpu') throw new Error(`Cannot find package '${specifier}' imported from here`);
  if (!tf.findBackend('tensorflow')) tf.registerBackend('tensorflow', () => new MathBackendCPU());
  return {};
};

describe('tensorflow-gpu and a GPU', () => {
  it('the GPU package without a usable GPU: auto names it tensorflow (libtensorflow on the CPU) and says why', async () => {
    const info = await initBackend('auto', { importModule: onlyGpuPackage, probeGpu: async () => withoutGpu });
    assert.equal(info.name, 'tensorflow');
    assert.equal(tf.getBackend(), 'tensorflow');
    assert.deepEqual(info.skipped, [
      'tensorflow-gpu: @tensorflow/tfjs-node-gpu is installed, but no GPU visible (nvidia-smi failed: No devices were found); libtensorflow would run on the CPU',
    ]);
    assert.deepEqual(imported, ['@tensorflow/tfjs-node-gpu'], 'the loaded GPU package serves tensorflow; tfjs-node is not tried');
  });

  it('a forced tensorflow-gpu without a GPU fails, naming what is missing', async () => {
    await assert.rejects(initBackend('tensorflow-gpu', { importModule: onlyGpuPackage, probeGpu: async () => withoutGpu }), /tensorflow-gpu: .*no GPU visible/);
  });

  it('with a usable GPU it is tensorflow-gpu, and tensorflow is refused (it would run on the GPU)', async () => {
    assert.equal((await initBackend('tensorflow-gpu', { importModule: onlyGpuPackage, probeGpu: async () => withGpu })).name, 'tensorflow-gpu');
    await assert.rejects(
      initBackend('tensorflow', { importModule: onlyGpuPackage, probeGpu: async () => withGpu }),
      /would run on the GPU: choose tensorflow-gpu/,
    );
    assert.equal((await initBackend('wasm')).name, 'wasm');
    tf.removeBackend('tensorflow');
  });

  it('the facts predict the same: the GPU image without a GPU gives tensorflow from the GPU package', async () => {
    const here = await probeBackends();
    const gpuImage = (gpu: GpuProbe): BackendFacts => ({
      ...here,
      gpu,
      packages: { ...here.packages, 'tensorflow-gpu': { package: '@tensorflow/tfjs-node-gpu', installed: true, version: '4.22.0' } },
    });
    const without = predictBackend('auto', gpuImage(withoutGpu));
    assert.equal(without.backend, 'tensorflow');
    assert.equal(without.package, '@tensorflow/tfjs-node-gpu');
    assert.match(without.skipped[0]?.reason ?? '', /^@tensorflow\/tfjs-node-gpu is installed, but no GPU visible/);
    assert.equal(predictBackend('auto', gpuImage(withGpu)).backend, 'tensorflow-gpu');
    assert.equal(predictBackend('tensorflow-gpu', gpuImage(withoutGpu)).backend, null);
    assert.equal(predictBackend('auto', here).backend, LOCAL_AUTO, 'this machine: no native tfjs package');
  });
});
