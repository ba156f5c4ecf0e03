/**
 * Latency with its spread: many timed runs, summarized by median and interquartile range, so two
 * variants are called faster or slower only when their ranges do not overlap. (A single median of a
 * few runs moved 2× between two identical jobs on a loaded machine.)
 */
import { round } from '../round.js';

export interface LatencyStats {
  /** Milliseconds per sample: median and the 25th / 75th percentiles of the runs. */
  median: number;
  p25: number;
  p75: number;
  runs: number;
}

export type LatencyVerdict = 'faster' | 'slower' | 'within noise';

const quantile = (sorted: number[], q: number) => {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (at - lo);
};

/**
 * Times `run` (one batch, returns its milliseconds) after warm-up runs: at least `minRuns`, then on
 * until `maxRuns` or the time budget is spent. Yields between runs so the process stays responsive.
 */
export async function measure(
  run: () => number | Promise<number>,
  batch: number,
  o: { minRuns: number; maxRuns: number; budgetMs: number },
): Promise<LatencyStats> {
  for (let i = 0; i < 3; i++) await run();
  const times: number[] = [];
  const started = performance.now();
  while (times.length < o.maxRuns && (times.length < o.minRuns || performance.now() - started < o.budgetMs)) {
    times.push((await run()) / batch);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  times.sort((a, b) => a - b);
  return { median: round(quantile(times, 0.5), 6), p25: round(quantile(times, 0.25), 6), p75: round(quantile(times, 0.75), 6), runs: times.length };
}

/** `a` against `b`: faster or slower only when the interquartile ranges are apart. */
export function compareLatency(a: LatencyStats, b: LatencyStats): LatencyVerdict {
  if (a.p75 < b.p25) return 'faster';
  if (a.p25 > b.p75) return 'slower';
  return 'within noise';
}

/** Budgets per batch size: enough runs for a median and quartiles, a few seconds per variant at most. */
export const LATENCY_PLAN = {
  batch_1: { batch: 1, minRuns: 30, maxRuns: 400, budgetMs: 1500 },
  batch_256: { batch: 256, minRuns: 9, maxRuns: 60, budgetMs: 2500 },
} as const;
