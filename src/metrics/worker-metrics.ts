import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What a worker measures: attempts, phase durations, training speed, the training child's tfjs memory. */
export function createWorkerMetrics(registry: Registry) {
  return {
    attempts: new Counter({ name: 'distill_attempts_total', help: 'Job attempts by how they ended', labelNames: ['outcome'], registers: [registry] }),
    phaseDuration: new Histogram({
      name: 'distill_phase_duration_seconds',
      help: 'How long each job phase took',
      labelNames: ['phase'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    }),
    samplesPerSecond: new Gauge({ name: 'distill_training_samples_per_second', help: 'Latest training throughput by model', labelNames: ['model'], registers: [registry] }),
    tensors: new Gauge({ name: 'distill_tfjs_tensors', help: 'Live tfjs tensors in training children', labelNames: ['job'], registers: [registry] }),
    tensorBytes: new Gauge({ name: 'distill_tfjs_bytes', help: 'Bytes held by tfjs tensors in training children', labelNames: ['job'], registers: [registry] }),
    activeJobs: new Gauge({ name: 'distill_worker_active_jobs', help: 'Attempts this worker is running', registers: [registry] }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
