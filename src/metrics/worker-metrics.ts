import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the worker found at start about its training backend (src/cli/commands/worker.ts sets it). */
export interface BackendInfoLabels {
  /** The backend TRAINING_BACKEND gives on this machine, or `none` when the forced choice cannot load. */
  backend: string;
  choice: string;
  /** The npm package serving a native backend, or `none`. */
  native: string;
  /** Whether a GPU is usable (visible, driver library and CUDA 11 / cuDNN 8 libraries found). */
  gpu: 'true' | 'false';
  gpus: string;
  simd: 'true' | 'false';
  blas: 'built' | 'not built';
}

let backendInfo: BackendInfoLabels | undefined;

/** Sets what `distill_worker_backend_info` shows; read at every collection, so order of start-up does not matter. */
export function setBackendInfo(labels: BackendInfoLabels): void {
  backendInfo = labels;
}

/** What a worker measures: attempts, phase durations, training speed, the training child's tfjs memory. */
export function createWorkerMetrics(registry: Registry) {
  new Gauge({
    name: 'distill_worker_backend_info',
    help: 'The training backend this worker gives its jobs, and why (1 per worker; labels carry the facts)',
    labelNames: ['backend', 'choice', 'native', 'gpu', 'gpus', 'simd', 'blas'],
    registers: [registry],
    collect() {
      this.reset();
      if (backendInfo) this.set({ ...backendInfo }, 1);
    },
  });
  return {
    attempts: new Counter({ name: 'distill_attempts_total', help: 'Job attempts by how they ended', labelNames: ['outcome'], registers: [registry] }),
    phaseDuration: new Histogram({
      name: 'distill_phase_duration_seconds',
      help: 'How long each job phase took',
      labelNames: ['phase'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    }),
    samplesPerSecond: new Gauge({
      name: 'distill_training_samples_per_second',
      help: 'Latest training throughput by model',
      labelNames: ['model'],
      registers: [registry],
    }),
    tensors: new Gauge({ name: 'distill_tfjs_tensors', help: 'Live tfjs tensors in training children', labelNames: ['job'], registers: [registry] }),
    tensorBytes: new Gauge({ name: 'distill_tfjs_bytes', help: 'Bytes held by tfjs tensors in training children', labelNames: ['job'], registers: [registry] }),
    activeJobs: new Gauge({ name: 'distill_worker_active_jobs', help: 'Attempts this worker is running', registers: [registry] }),
    retentionDeletedJobs: new Counter({
      name: 'distill_retention_deleted_jobs_total',
      help: 'Finished jobs deleted by the retention sweep (JOB_RETENTION_DAYS)',
      registers: [registry],
    }),
    retentionFreedBytes: new Counter({ name: 'distill_retention_freed_bytes_total', help: 'Stored bytes freed by the retention sweep', registers: [registry] }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
