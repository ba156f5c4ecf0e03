/**
 * The phases of a job as a strip: each phase that ran is a segment as wide as the time it took (with a
 * floor so short ones stay readable), the current one pulsing, the ones still to come greyed.
 */
import { fill, h } from '../dom.js';
import { duration, phaseLabel } from '../format.js';
import { TERMINAL, type Job } from '../types.js';

/** The engine's phase order (src/ml/events.ts). */
const PHASES = ['preparing_data', 'training_teacher', 'computing_soft_targets', 'distilling', 'training_baseline', 'evaluating', 'saving'];

export interface PhaseMark {
  phase: string;
  at: number;
}

/** The phases this job will go through, from its spec. */
function expectedPhases(job: Job): string[] {
  const spec = job.spec as { teacher?: { model_id?: string }; distillation?: { baseline?: boolean } };
  return PHASES.filter((p) => !(p === 'training_teacher' && spec.teacher?.model_id) && !(p === 'training_baseline' && !spec.distillation?.baseline));
}

export function renderTimeline(container: HTMLElement, job: Job, marks: PhaseMark[], now = Date.now()): void {
  const terminal = TERMINAL.has(job.status);
  const end = job.finished_at ? Date.parse(job.finished_at) : now;
  const seen = marks.map((m, i) => ({
    phase: m.phase,
    seconds: Math.max(0, ((marks[i + 1]?.at ?? end) - m.at) / 1000),
    current: i === marks.length - 1 && !terminal,
  }));
  const done = new Set(marks.map((m) => m.phase));
  const upcoming = terminal ? [] : expectedPhases(job).filter((p) => !done.has(p));
  const total = seen.reduce((sum, s) => sum + s.seconds, 0) || 1;

  const segments = [
    ...seen.map((s) =>
      h(
        'div',
        {
          class: `phase-seg ${s.current ? 'phase-current' : 'phase-done'}`,
          style: `flex-grow:${Math.max(s.seconds / total, 0.06)}`,
          title: `${phaseLabel(s.phase)}: ${duration(s.seconds)}`,
          'data-phase': s.phase,
        },
        h('span', { class: 'phase-name' }, phaseLabel(s.phase)),
        h('span', { class: 'phase-time' }, duration(s.seconds)),
      ),
    ),
    ...upcoming.map((p) =>
      h(
        'div',
        { class: 'phase-seg phase-todo', style: 'flex-grow:0.06', 'data-phase': p },
        h('span', { class: 'phase-name' }, phaseLabel(p)),
        h('span', { class: 'phase-time' }, '…'),
      ),
    ),
  ];
  if (segments.length === 0) fill(container, h('div', { class: 'muted' }, job.status === 'queued' ? 'Waiting for a worker…' : 'No phase ran.'));
  else fill(container, h('div', { class: 'timeline', 'data-testid': 'phase-timeline' }, ...segments));
}
