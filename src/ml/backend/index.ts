import * as tf from '@tensorflow/tfjs';

/** The backends a worker can run on, best first. `auto` picks the best one that loads. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

export interface BackendInfo {
  /** What the job report and the job object call it. */
  name: BackendName;
  /** tfjs' own name for the backend that is active (`tensorflow` for both native packages). */
  tfBackend: string;
  threads: number;
}

let active: BackendInfo | undefined;

/**
 * Loads and activates a backend once per process. Later calls return the first answer, because
 * tfjs cannot hold two native backends in one process.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (active) return active;
  const candidates: readonly BackendName[] = choice === 'auto' ? BACKENDS : [choice];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      active = await activate(name);
      return active;
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no training backend could be loaded (${failures.join('; ')})`);
}

async function activate(name: BackendName): Promise<BackendInfo> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    // Native packages are optional: they are installed only in images that can fetch libtensorflow.
    await import(name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend did not initialise');
    return { name, tfBackend: 'tensorflow', threads: 0 };
  }
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`${name} backend did not initialise`);
  await tf.ready();
  return { name, tfBackend: name, threads: 1 };
}
