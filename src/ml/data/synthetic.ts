/**
 * builtin:synthetic: a Gaussian-mixture classification task. Each class owns a few clusters spread
 * around a class centre, and classes overlap by `difficulty`, so the Bayes posterior is soft and a
 * teacher's logits say which classes are confusable: what distillation transfers.
 * The task depends only on `options.seed`, so jobs with different job seeds see the same task.
 */
import { Rng, deriveSeed } from '../rng.js';
import type { SyntheticOptions } from '../spec.js';
import type { Dataset } from './types.js';

export function generateSynthetic(options: SyntheticOptions = {}): Dataset {
  const classes = options.classes ?? 10;
  const shape = options.shape ? [...options.shape] : [options.features ?? 32];
  const samples = options.samples ?? 5000;
  const difficulty = options.difficulty ?? 0.5;
  const clusters = options.clusters_per_class ?? 3;
  const dim = shape.reduce((a, b) => a * b, 1);
  const rng = new Rng(deriveSeed('synthetic', options.seed ?? 0));

  // Centres are scaled by 1/sqrt(dim) so the distances between classes, and with them the
  // difficulty, do not depend on the number of features.
  const scale = 3 / Math.sqrt(Math.min(dim, 64));
  const centres: Float32Array[] = [];
  for (let k = 0; k < classes; k++) {
    const classCentre = Float32Array.from({ length: dim }, () => rng.normal() * scale);
    for (let m = 0; m < clusters; m++) {
      centres.push(Float32Array.from(classCentre, (v) => v + rng.normal() * scale * 0.7));
    }
  }
  const noise = (0.15 + 1.2 * difficulty) * scale;
  const x = new Float32Array(samples * dim);
  const y = new Int32Array(samples);
  for (let i = 0; i < samples; i++) {
    const label = i % classes; // balanced classes; the split shuffles
    const centre = centres[label * clusters + rng.int(clusters)]!;
    for (let j = 0; j < dim; j++) x[i * dim + j] = centre[j]! + rng.normal() * noise;
    y[i] = label;
  }
  return { shape, classNames: Array.from({ length: classes }, (_, k) => `class_${k}`), train: { x, y } };
}
