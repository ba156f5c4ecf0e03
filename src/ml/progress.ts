/**
 * Job-wide progress: each phase is weighted by its estimated multiply-adds, so percent and ETA move
 * evenly over a job whose teacher is ten times its student.
 */
import type { Phase, Progress } from './events.js';

/** What a training loop reports progress through: a phase, or a share of one. */
export interface PhaseProgress {
  set(fraction: number): void;
  snapshot(epoch?: number, epochs?: number, step?: number, steps?: number): Progress;
}

export class ProgressTracker implements PhaseProgress {
  private readonly order: Phase[];
  private readonly weights: Map<Phase, number>;
  private readonly total: number;
  private current: Phase | undefined;
  private fraction = 0;
  private readonly started = performance.now();
  /** Work already behind us when this tracker started (a resumed job). */
  private readonly skipped: number;

  constructor(plan: Array<[Phase, number]>, skippedPhases: Phase[] = []) {
    this.order = plan.map(([p]) => p);
    this.weights = new Map(plan.map(([p, w]) => [p, Math.max(w, 1)]));
    this.total = [...this.weights.values()].reduce((a, b) => a + b, 0);
    this.skipped = skippedPhases.reduce((s, p) => s + (this.weights.get(p) ?? 0), 0) / this.total;
  }

  enter(phase: Phase): void {
    this.current = phase;
    this.fraction = 0;
  }

  /** Fraction (0..1) of the current phase done. */
  set(fraction: number): void {
    this.fraction = Math.min(1, Math.max(0, fraction));
  }

  /** The part [offset, offset + share] of the current phase (one of several teachers trained in turn). */
  slice(offset: number, share: number): PhaseProgress {
    return { set: (fraction) => this.set(offset + share * Math.min(1, Math.max(0, fraction))), snapshot: (...args) => this.snapshot(...args) };
  }

  done(): number {
    if (!this.current) return 0;
    let before = 0;
    for (const p of this.order) {
      if (p === this.current) break;
      before += this.weights.get(p) ?? 0;
    }
    return (before + (this.weights.get(this.current) ?? 0) * this.fraction) / this.total;
  }

  snapshot(epoch = 0, epochs = 0, step = 0, steps = 0): Progress {
    const done = this.done();
    const elapsed = (performance.now() - this.started) / 1000;
    const ranHere = done - this.skipped;
    const eta = ranHere > 0.01 && elapsed > 0.5 ? Math.round((elapsed / ranHere) * (1 - done)) : null;
    return { epoch, epochs, step, steps, percent: Math.round(done * 1000) / 10, eta_seconds: eta };
  }
}
