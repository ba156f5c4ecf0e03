import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Whether the optional native addon (native/blas, `distill-blas`) was built on this machine: npm builds
 * it where libopenblas-dev and a compiler are present (CI installs them), and leaves it out elsewhere.
 */
export const BLAS_BUILT = (() => {
  try {
    return existsSync(join(dirname(createRequire(import.meta.url).resolve('distill-blas/package.json')), 'build', 'Release', 'distill_blas.node'));
  } catch {
    return false;
  }
})();

/** The backend `auto` gives on this machine without tfjs-node: wasm with OpenBLAS where the addon built, else plain wasm. */
export const LOCAL_AUTO = BLAS_BUILT ? 'wasm-blas' : 'wasm';
