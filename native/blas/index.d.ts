/** The wasm module's memory: an ArrayBuffer, or a Uint8Array over the threaded build's SharedArrayBuffer. */
export type Heap = ArrayBuffer | Uint8Array;

/**
 * C[b] = op(A[b])·op(B[b]) (+ bias, relu) for b < batch, row-major float32; offsets in bytes, strides in
 * floats (0 broadcasts a batch of one); C is [batch, M, N] packed. biasOff < 0: no bias; biasLen 1 or N.
 */
export function sgemm(
  heap: Heap,
  batch: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  aOff: number,
  bOff: number,
  cOff: number,
  strideA: number,
  strideB: number,
  biasOff: number,
  biasLen: number,
  relu: boolean,
): void;

/** One Adam step over n floats into separate outputs, with tfjs' AdamOptimizer float32 arithmetic. */
export function adam(
  heap: Heap,
  n: number,
  varOff: number,
  gradOff: number,
  mOff: number,
  vOff: number,
  outVar: number,
  outM: number,
  outV: number,
  lr: number,
  beta1: number,
  beta2: number,
  oneMinusBeta1: number,
  oneMinusBeta2: number,
  epsilon: number,
  oneMinusAccBeta1: number,
  oneMinusAccBeta2: number,
): void;

export function setThreads(n: number): void;

export function describe(): { config: string; core: string; threads: number };
