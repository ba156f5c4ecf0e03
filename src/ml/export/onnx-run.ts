/**
 * Exported models run in ONNX Runtime (onnxruntime-node, CPU): outputs for a whole split, and the
 * latency samples the report summarizes.
 */
import * as ort from 'onnxruntime-node';

export type OnnxSession = ort.InferenceSession;

/**
 * `served` (the default): every graph optimization, as a serving stack opens the model; with 8-bit
 * weights ONNX Runtime then fuses DequantizeLinear into integer kernels that also quantize the
 * activations, an approximation of its own. `exact`: basic optimizations only, so the graph computes
 * in float32 on the dequantized weights, exactly what the tfjs files compute.
 */
export function openOnnx(bytes: Uint8Array, mode: 'served' | 'exact' = 'served'): Promise<OnnxSession> {
  // One intra-op thread: the training process shares the machine with the worker, and the tfjs
  // latency it is compared with runs on one thread too.
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: mode === 'exact' ? 'basic' : 'all' });
}

/** Outputs [n, k] for inputs `x` (n samples of `sampleShape`, flattened row-major), in batches. */
export async function runOnnx(
  session: OnnxSession,
  x: Float32Array,
  sampleShape: readonly number[],
  batchSize = 512,
): Promise<{ values: Float32Array; classes: number }> {
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const n = size ? x.length / size : 0;
  const parts: Float32Array[] = [];
  let classes = 0;
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const feed = new ort.Tensor('float32', x.subarray(start * size, (start + count) * size), [count, ...sampleShape]);
    const result = await session.run({ [session.inputNames[0]!]: feed });
    const out = result[session.outputNames[0]!]!;
    classes = Number(out.dims[1] ?? 0);
    parts.push(Float32Array.from(out.data as Float32Array));
    out.dispose();
  }
  const values = new Float32Array(n * classes);
  parts.reduce((at, p) => (values.set(p, at), at + p.length), 0);
  return { values, classes };
}

/** Milliseconds of one run on a batch of zeros. */
export async function timeOnnxRun(session: OnnxSession, batch: number, sampleShape: readonly number[]): Promise<() => Promise<number>> {
  const size = sampleShape.reduce((a, b) => a * b, 1);
  const feed = new ort.Tensor('float32', new Float32Array(batch * size), [batch, ...sampleShape]);
  const name = session.inputNames[0]!;
  return async () => {
    const t0 = performance.now();
    const result = await session.run({ [name]: feed });
    const ms = performance.now() - t0;
    for (const t of Object.values(result)) t.dispose();
    return ms;
  };
}
