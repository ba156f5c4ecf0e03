/** Small pieces several views share: status pills, progress bars, accuracy triples, error notes. */
import { ProblemError } from '../api.js';
import { h } from '../dom.js';
import { pct } from '../format.js';
import { accuracyOf, type LiveJob } from '../job-state.js';
import { ROLES } from '../types.js';

export const statusPill = (status: string) => h('span', { class: `pill pill-${status}`, 'data-status': status }, status);

export function progressBar(percent: number, status: string): HTMLElement {
  const clamped = Math.max(0, Math.min(100, percent));
  return h(
    'div',
    { class: `progress progress-${status}`, role: 'progressbar', 'aria-valuenow': Math.round(clamped), 'aria-valuemin': 0, 'aria-valuemax': 100 },
    h('div', { class: 'progress-fill', style: `width:${clamped}%` }),
  );
}

const ROLE_INITIAL = { teacher: 'T', student: 'S', baseline: 'B' } as const;

/** "T 97.1 · S 93.4 · B 91.0": test accuracy when final, the latest validation figure (lighter) before. */
export function accuracyTriple(state: LiveJob): HTMLElement {
  const parts = ROLES.flatMap((role) => {
    const acc = accuracyOf(state, role);
    if (!acc) return [];
    return [
      h(
        'span',
        { class: `acc ${acc.final ? 'acc-final' : 'acc-live'}`, title: `${role}: ${acc.final ? 'test accuracy' : 'latest validation accuracy'}` },
        h('b', {}, ROLE_INITIAL[role]),
        ` ${pct(acc.value)}`,
      ),
    ];
  });
  return parts.length ? h('span', { class: 'accs' }, ...parts) : h('span', { class: 'muted' }, '—');
}

/** A friendly note for a failed request; 401 points at the key field. */
export function problemNote(err: unknown): HTMLElement {
  if (err instanceof ProblemError && err.status === 401) {
    return h('div', { class: 'note note-warn' }, 'This server needs an API key. Enter it with “API key” at the top right; it stays in this tab only.');
  }
  const message = err instanceof ProblemError ? `${err.detail} (${err.code})` : String((err as Error).message ?? err);
  return h('div', { class: 'note note-error' }, message);
}
