/**
 * The jobs list: status, phase, progress and accuracies of the newest jobs, moving live. Running jobs
 * are followed over the shared WebSocket; a light poll picks up jobs submitted elsewhere (another tab,
 * the CLI) and refreshes ages.
 */
import { api } from '../api.js';
import { fill, h } from '../dom.js';
import { age, phaseLabel } from '../format.js';
import { applyEvent, liveJob, type LiveJob } from '../job-state.js';
import { live } from '../live.js';
import { TERMINAL, type Job, type List } from '../types.js';
import { accuracyTriple, problemNote, progressBar, statusPill } from './widgets.js';

const POLL_MS = 5000;
const PAGE = 50;

export function jobsListView(root: HTMLElement): () => void {
  const jobs = new Map<string, LiveJob>();
  const rows = new Map<string, HTMLTableRowElement>();
  const body = h('tbody');
  const message = h('div');
  const table = h(
    'table',
    { class: 'jobs', 'data-testid': 'jobs-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Job'),
        h('th', {}, 'Status'),
        h('th', {}, 'Phase'),
        h('th', { class: 'col-progress' }, 'Progress'),
        h('th', {}, 'Accuracy'),
        h('th', {}, 'Age'),
      ),
    ),
    body,
  );
  fill(
    root,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'card-head' }, h('h1', {}, 'Jobs'), h('a', { class: 'button primary', href: '#/new' }, 'New job')),
      message,
      table,
    ),
  );

  let stopped = false;
  const dirty = new Set<string>();
  let frame = 0;
  const redraw = (id: string) => {
    dirty.add(id);
    frame ||= requestAnimationFrame(() => {
      frame = 0;
      for (const d of dirty) renderRow(d);
      dirty.clear();
    });
  };

  /**
   * Rows are built once and a cell is refilled only when what it shows changed: a running job moves its
   * row many times a second, and a link rebuilt between a mousedown and its mouseup loses the click.
   */
  function renderRow(id: string): void {
    const state = jobs.get(id);
    const row = rows.get(id);
    if (!state || !row) return;
    const job = state.job;
    const cells = [
      h('td', {}, h('a', { href: `#/jobs/${job.id}`, class: 'job-name' }, job.name ?? 'untitled'), h('div', { class: 'id' }, job.id)),
      h('td', {}, statusPill(job.status)),
      h(
        'td',
        { class: 'phase' },
        job.status === 'succeeded' ? 'done' : TERMINAL.has(job.status) && job.phase ? `stopped in ${phaseLabel(job.phase)}` : phaseLabel(job.phase),
      ),
      h(
        'td',
        { class: 'col-progress' },
        h(
          'div',
          { class: 'progress-cell' },
          progressBar(job.progress.percent, job.status),
          h('span', { class: 'num' }, `${Math.round(job.progress.percent)}%`),
        ),
      ),
      h('td', {}, accuracyTriple(state)),
      h('td', { class: 'muted', title: new Date(job.created_at).toLocaleString() }, age(job.created_at)),
    ];
    cells.forEach((fresh, i) => {
      const shown = row.children[i];
      if (!shown) row.append(fresh);
      else if (!shown.isEqualNode(fresh)) shown.replaceWith(fresh);
    });
  }

  function follow(state: LiveJob): void {
    const id = state.job.id;
    if (TERMINAL.has(state.job.status) || live.isSubscribed(id)) return;
    live.subscribe(id, state.job.last_event_seq, (event) => {
      if (applyEvent(state, event)) void refreshJob(id);
      redraw(id);
    });
  }

  /** A job that just ended: its result (test accuracies) is only in the job object. */
  async function refreshJob(id: string): Promise<void> {
    const job = await api<Job>('GET', `/v1/jobs/${id}`).catch(() => undefined);
    const state = jobs.get(id);
    if (!job || !state || stopped) return;
    state.job = job;
    redraw(id);
  }

  async function load(): Promise<void> {
    let list: List<Job>;
    try {
      list = await api<List<Job>>('GET', `/v1/jobs?limit=${PAGE}`);
    } catch (err) {
      if (!stopped) fill(message, problemNote(err));
      return;
    }
    if (stopped) return;
    fill(message, list.data.length ? null : h('div', { class: 'empty' }, 'No jobs yet. ', h('a', { href: '#/new' }, 'Submit the first one'), '.'));
    const order: HTMLTableRowElement[] = [];
    for (const job of list.data) {
      let state = jobs.get(job.id);
      // The poll's copy wins only when it is newer than what the socket told us.
      if (!state) jobs.set(job.id, (state = liveJob(job)));
      else if (job.last_event_seq >= state.job.last_event_seq) state.job = job;
      let row = rows.get(job.id);
      if (!row) {
        row = h('tr', {
          'data-job-id': job.id,
          onclick: (e: Event) => {
            if (!(e.target as Element).closest('a')) location.hash = `#/jobs/${job.id}`;
          },
        });
        rows.set(job.id, row);
      }
      order.push(row);
      follow(state);
      renderRow(job.id);
    }
    body.replaceChildren(...order);
  }

  void load();
  const poll = window.setInterval(() => void load(), POLL_MS);
  return () => {
    stopped = true;
    clearInterval(poll);
    cancelAnimationFrame(frame);
    for (const id of jobs.keys()) live.unsubscribe(id);
  };
}
