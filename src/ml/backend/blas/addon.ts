/**
 * The optional native addon (native/blas, npm package `distill-blas`): OpenBLAS sgemm and a fused Adam
 * step over the wasm heap. Installed as an optional dependency and built by node-gyp where
 * libopenblas-dev and a compiler are present; elsewhere it is absent and the engine trains on plain wasm.
 */
import { createRequire } from 'node:module';

export interface BlasAddon {
  sgemm(
    heap: Uint8Array,
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
  adam(
    heap: Uint8Array,
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
  setThreads(n: number): void;
  describe(): { config: string; core: string; threads: number };
}

export const BLAS_PACKAGE = 'distill-blas';

export type AddonLoad = { ok: true; addon: BlasAddon; path: string } | { ok: false; reason: string };

const require = createRequire(import.meta.url);
let loaded: AddonLoad | undefined;

/** Loads the addon once per process; says why not when it cannot (not installed, not built, no libopenblas). */
export function loadBlasAddon(): AddonLoad {
  if (loaded) return loaded;
  let path: string;
  try {
    path = require.resolve(BLAS_PACKAGE);
  } catch {
    return (loaded = {
      ok: false,
      reason: `${BLAS_PACKAGE} is not installed (it builds at npm install where libopenblas-dev, python3, make and g++ are present)`,
    });
  }
  try {
    return (loaded = { ok: true, addon: require(BLAS_PACKAGE) as BlasAddon, path });
  } catch (err) {
    const message = (err as Error).message;
    const why = /Cannot find module .*distill_blas\.node/.test(message)
      ? 'is installed but was not built'
      : /libopenblas/.test(message)
        ? 'is built but libopenblas cannot be loaded'
        : 'could not be loaded';
    return (loaded = { ok: false, reason: `${BLAS_PACKAGE} ${why}` });
  }
}
