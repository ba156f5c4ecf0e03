/** The job's progress bar and its line: phase, epoch, step, percent, time left (or the time it took). */
import { fill, h } from '../../dom.js';
import { duration, phaseLabel } from '../../format.js';
import { TERMINAL, type Job } from '../../types.js';
import { progressBar } from '../widgets.js';

export function renderProgress(element: HTMLElement, j: Job): void {
  const p = j.progress;
  const parts = [
    TERMINAL.has(j.status) ? (j.status === 'succeeded' ? 'done' : j.status) : phaseLabel(j.phase),
    p.epoch ? `epoch ${p.epoch}/${p.epochs}` : null,
    p.step && !TERMINAL.has(j.status) ? `step ${p.step}/${p.steps}` : null,
    `${Math.round(p.percent)}%`,
    p.eta_seconds !== null && !TERMINAL.has(j.status) ? `about ${duration(p.eta_seconds)} left` : null,
    j.finished_at && j.started_at ? `took ${duration((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000)}` : null,
  ].filter(Boolean);
  fill(element, progressBar(p.percent, j.status), h('div', { class: 'progress-text', 'data-testid': 'progress-text' }, parts.join(' · ')));
}
