/** Job bodies small enough to train in a second or two on wasm, big enough to beat chance clearly. */
export const QUICK_JOB = {
  name: 'quick',
  dataset: { source: 'builtin:synthetic', options: { samples: 800, classes: 4, features: 16 } },
  teacher: { model: { preset: 'mlp-tiny' }, training: { epochs: 3, learning_rate: 0.01 } },
  student: { model: { preset: 'linear' }, training: { epochs: 3, learning_rate: 0.01 } },
  distillation: { temperature: 4, alpha: 0.7 },
  seed: 7,
};

/** Many short epochs: long enough to interrupt between checkpoints. */
export function longerJob(studentEpochs = 30) {
  return {
    ...QUICK_JOB,
    name: 'longer',
    dataset: { source: 'builtin:synthetic', options: { samples: 3000, classes: 4, features: 16 } },
    student: { model: { preset: 'mlp-tiny' }, training: { epochs: studentEpochs, learning_rate: 0.01, batch_size: 32 } },
  };
}

/**
 * A job a test ends itself (cancel, kill): minutes of training even on a fast machine, so it is still
 * running whenever the test gets to it. 150 epochs of longerJob could end in under 20 s and take the
 * cancel button with it.
 */
export function cancellableJob() {
  const job = longerJob(200);
  return {
    ...job,
    name: 'cancellable',
    dataset: { ...job.dataset, options: { ...job.dataset.options, samples: 5000 } },
    student: { ...job.student, training: { ...job.student.training, batch_size: 8 } },
  };
}
