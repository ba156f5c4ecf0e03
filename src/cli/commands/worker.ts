import type { Command } from 'commander';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import { runService } from '../lifecycle.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: takes jobs from the queue and trains each in a sandboxed child process')
    .action(() =>
      runService('worker', async (config, log) => {
        const facts = reportBackend(config, log);
        const worker = await (await import('../../worker/worker.js')).startWorker(config, log);
        await facts;
        return worker;
      }),
    );
}

/**
 * Logs once what `distill doctor` says about this machine (without loading a backend: each job's child
 * does that) and shows it in /metrics as distill_worker_backend_info. A forced backend that cannot load,
 * or a GPU package without a usable GPU, is a warning: jobs will fail, or train on the CPU.
 */
async function reportBackend(config: Config, log: Logger): Promise<void> {
  try {
    const { probeBackends, predictBackend } = await import('../../ml/tfjs-free.js');
    const { setBackendInfo } = await import('../../metrics/worker-metrics.js');
    const facts = await probeBackends();
    const choice = config.TRAINING_BACKEND;
    const predicted = predictBackend(choice, facts);
    setBackendInfo({
      backend: predicted.backend ?? 'none',
      choice,
      native: predicted.package ?? 'none',
      gpu: facts.gpu.usable ? 'true' : 'false',
      gpus: String(facts.gpu.gpus.length),
      simd: facts.wasm.simd ? 'true' : 'false',
      blas: facts.blas.built ? 'built' : 'not built',
    });
    const fields = {
      backend: predicted.backend,
      choice,
      skipped: predicted.skipped.map((s) => `${s.backend}: ${s.reason}`),
      packages: Object.values(facts.packages).map((p) => ({ package: p.package, installed: p.installed, ...(p.version ? { version: p.version } : {}) })),
      gpu: {
        usable: facts.gpu.usable,
        ...(facts.gpu.why ? { why: facts.gpu.why } : {}),
        gpus: facts.gpu.gpus,
        ...(facts.gpu.driverNote ? { driverNote: facts.gpu.driverNote } : {}),
      },
      cuda: facts.gpu.cudaLibraries.map((l) => (l.found ? `${l.soname} ${l.version ?? ''}`.trim() : `${l.soname} missing`)),
      wasm: facts.wasm,
      blas: facts.blas.built ? `built: ${facts.blas.path}` : 'not built',
    };
    if (!predicted.backend) {
      log.warn(fields, `training backend: TRAINING_BACKEND=${choice} cannot load (${predicted.skipped[0]?.reason}): every job will fail; run 'distill doctor'`);
    } else if (choice === 'auto' && facts.packages['tensorflow-gpu'].installed && predicted.backend !== 'tensorflow-gpu') {
      log.warn(fields, `training backend: ${predicted.backend}, not tensorflow-gpu: ${facts.gpu.why ?? 'see skipped'}`);
    } else {
      log.info(fields, `training backend: ${predicted.backend} (TRAINING_BACKEND=${choice})`);
    }
  } catch (err) {
    log.warn({ err }, 'could not probe the training backend');
  }
}
