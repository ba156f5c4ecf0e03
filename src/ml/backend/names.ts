/**
 * The backends a worker can run on, best first, without loading any of them (config and CLI read these).
 * `wasm-blas` is the wasm backend with its matmuls on OpenBLAS through the optional native addon (native/blas).
 */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm-blas', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
/** `auto` picks the best one that loads. */
export type BackendChoice = BackendName | 'auto';
