import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';

/** Deterministic pseudo-random values (no tfjs RNG, so both backends get identical inputs). */
export function randomValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    randomValues(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );
}

/** Runs `fn` on one backend and returns its outputs as plain arrays; checks no wasm data leaked. */
export async function runOn(backend: 'wasm' | 'cpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const engineBackend = tf.engine().backend as unknown as { numDataIds(): number };
  const before = engineBackend.numDataIds();
  const tensorsBefore = tf.memory().numTensors;
  const outs = tf.tidy(fn);
  const values = outs.map((t) => Float32Array.from(t.dataSync()));
  const shapes = outs.map((t) => t.shape.join('x'));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `${backend}: tensors leaked`);
  assert.equal(engineBackend.numDataIds(), before, `${backend}: backend data leaked`);
  return Object.assign(values, { shapes });
}

/** Asserts wasm and cpu give the same outputs (same shapes, max abs difference within `tol`). */
export async function assertSameOnWasmAndCpu(fn: () => tf.Tensor[], tol = 1e-4, label = ''): Promise<void> {
  const wasm = await runOn('wasm', fn);
  const cpu = await runOn('cpu', fn);
  await tf.setBackend('wasm');
  assert.deepEqual(shapesOf(wasm), shapesOf(cpu), `${label}: shapes differ`);
  wasm.forEach((w, i) => {
    const c = cpu[i]!;
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j]! - c[j]!));
    assert.ok(worst <= tol, `${label} output ${i}: max |wasm - cpu| = ${worst} > ${tol}`);
    assert.ok(
      w.some((v) => v !== 0),
      `${label} output ${i}: all zeros (test is vacuous)`,
    );
  });
}

function shapesOf(values: Float32Array[]): string[] {
  return (values as Float32Array[] & { shapes: string[] }).shapes;
}
