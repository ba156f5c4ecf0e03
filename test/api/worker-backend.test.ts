// A real worker says once, at start, which training backend it gives its jobs and why, and /metrics shows
// it as distill_worker_backend_info (one series per worker process, the facts in its labels).
import { BLAS_BUILT } from '../support/local-backend.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../support/http.js';
import { startStack, type Stack } from '../support/stack.js';

const isBackendLine = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('training backend:');

/** The info series of one worker process, e.g. `distill_worker_backend_info{backend="wasm",…,process="worker-123"} 1`. */
function infoLine(text: string, pid: number | undefined): string | undefined {
  return text.split('\n').find((l) => l.startsWith('distill_worker_backend_info{') && l.includes(`process="worker-${pid}"`));
}

describe('a worker reports its training backend', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 1 });
  });
  after(() => stack.stop());

  test('logged once at start and exposed in /metrics; a forced backend that cannot load is a warning and backend="none"', async () => {
    const wasmWorker = stack.workers[0]!;
    const logged = await wasmWorker.waitForLog(isBackendLine, 60_000);
    assert.equal(logged.msg, 'training backend: wasm (TRAINING_BACKEND=wasm)');
    assert.equal(logged.backend, 'wasm');
    assert.match(String(logged.blas), BLAS_BUILT ? /^built: .*distill_blas\.node$/ : /^not built$/);
    assert.equal((logged.gpu as { usable: boolean }).usable, false);
    assert.ok(Array.isArray(logged.cuda) && logged.cuda.includes('libcudart.so.11.0 missing'), JSON.stringify(logged.cuda));

    const forced = await stack.startWorker({ TRAINING_BACKEND: 'tensorflow' });
    const warned = await forced.waitForLog(isBackendLine, 60_000);
    assert.equal(warned.level, 40, 'warn');
    assert.match(String(warned.msg), /TRAINING_BACKEND=tensorflow cannot load \(@tensorflow\/tfjs-node is not installed\): every job will fail/);

    let seen = 'no answer yet';
    const text = await waitFor(
      "both workers' backend info in /metrics",
      async () => {
        const body = await (await fetch(`${stack.url}/metrics`)).text();
        seen =
          body
            .split('\n')
            .filter((l) => l.startsWith('distill_worker_backend_info'))
            .join('\n') || 'no distill_worker_backend_info lines';
        return infoLine(body, wasmWorker.process.pid) && infoLine(body, forced.process.pid) ? body : undefined;
      },
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${seen}`);
    });
    const wasmInfo = infoLine(text, wasmWorker.process.pid)!;
    for (const label of [
      'backend="wasm"',
      'choice="wasm"',
      'native="none"',
      'gpu="false"',
      'gpus="0"',
      'simd="true"',
      `blas="${BLAS_BUILT ? 'built' : 'not built'}"`,
    ])
      assert.ok(wasmInfo.includes(label), `${label} in ${wasmInfo}`);
    assert.match(wasmInfo, / 1$/);
    const forcedInfo = infoLine(text, forced.process.pid)!;
    assert.ok(forcedInfo.includes('backend="none"') && forcedInfo.includes('choice="tensorflow"'), forcedInfo);

    // Once per worker, though both have been up through at least one publishing round by now.
    assert.equal(wasmWorker.logs.filter(isBackendLine).length, 1);
    assert.equal(forced.logs.filter(isBackendLine).length, 1);
  });
});
