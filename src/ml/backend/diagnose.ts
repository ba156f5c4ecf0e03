/**
 * `distill doctor`'s findings: the machine's facts (./probe.ts), what they predict, and what really
 * happens when this process loads the chosen backend the way a training child does (initBackend).
 */
import { BACKENDS, initBackend, shutdownBackend, type BackendChoice, type BackendInfo, type BackendName } from './index.js';
import { predictBackend, probeBackends, type BackendFacts, type Prediction } from './probe.js';

export interface CandidateFinding {
  backend: BackendName;
  /** picked: what training runs on; skipped: tried and passed over (why in `reason`); failed: the forced choice did not load; not tried. */
  status: 'picked' | 'skipped' | 'failed' | 'not tried';
  reason?: string;
}

export interface Diagnosis {
  choice: BackendChoice;
  /** The backend training would run on, or null when the choice cannot load. */
  backend: BackendName | null;
  /** Why the choice could not load. */
  error: string | null;
  candidates: CandidateFinding[];
  /** What the facts alone predicted (the worker logs this at start, without loading a backend). */
  predicted: Prediction;
  /** The loaded backend as a training child reports it. */
  loaded: BackendInfo | null;
  facts: BackendFacts;
}

export async function diagnose(choice: BackendChoice, env: NodeJS.ProcessEnv = process.env): Promise<Diagnosis> {
  const facts = await probeBackends(env);
  const predicted = predictBackend(choice, facts);
  let loaded: BackendInfo | null = null;
  let error: string | null = null;
  try {
    loaded = await initBackend(choice);
  } catch (err) {
    error = (err as Error).message;
  } finally {
    await shutdownBackend();
  }
  return { choice, backend: loaded?.name ?? null, error, candidates: findings(choice, loaded, error, facts), predicted, loaded, facts };
}

function findings(choice: BackendChoice, loaded: BackendInfo | null, error: string | null, facts: BackendFacts): CandidateFinding[] {
  const skippedReason = (name: BackendName) => {
    const prefix = `${name}: `;
    return loaded?.skipped.find((s) => s.startsWith(prefix))?.slice(prefix.length);
  };
  const untried = (name: BackendName): CandidateFinding => {
    const would = predictBackend(name, facts);
    const note = choice === 'auto' ? 'a better backend loaded' : `TRAINING_BACKEND=${choice}`;
    return { backend: name, status: 'not tried', reason: would.backend ? `${note}; it would load` : `${note}; it would not load: ${would.skipped[0]?.reason}` };
  };
  return BACKENDS.map((name) => {
    if (loaded?.name === name) return { backend: name, status: 'picked', reason: describe(loaded, facts) };
    const skipped = skippedReason(name);
    if (skipped !== undefined) return { backend: name, status: 'skipped', reason: skipped };
    if (error && choice === name)
      return { backend: name, status: 'failed', reason: error.replace(`no training backend could be loaded (${name}: `, '').replace(/\)$/, '') };
    return untried(name);
  });
}

function describe(info: BackendInfo, facts: BackendFacts): string {
  if (info.name === 'wasm') return `SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  if (info.name === 'cpu') return 'plain JavaScript kernels';
  if (info.name === 'wasm-blas')
    return `OpenBLAS (${info.blas?.core ?? '?'} kernels, ${info.threads} thread${info.threads === 1 ? '' : 's'}) for ${info.blas?.kernels.join(', ')}; wasm SIMD ${info.simd ? 'on' : 'off'} for the rest`;
  const pkg = info.name === 'tensorflow' && !facts.packages.tensorflow.installed ? facts.packages['tensorflow-gpu'].package : facts.packages[info.name].package;
  return `libtensorflow ${info.name === 'tensorflow-gpu' ? `on ${facts.gpu.gpus.length} GPU${facts.gpu.gpus.length === 1 ? '' : 's'}` : 'on the CPU'}, from ${pkg}`;
}
