/**
 * The job page's head: name and status, Cancel (while queued or running) and Delete (once ended), each
 * confirmed by a second click within a few seconds instead of a modal dialog, and the job's facts.
 */
import { api } from '../../api.js';
import { fill, h } from '../../dom.js';
import { age } from '../../format.js';
import type { LiveJob } from '../../job-state.js';
import { TERMINAL, type Job } from '../../types.js';
import { problemNote, statusPill } from '../widgets.js';

const CONFIRM_MS = 5000;

export interface JobHeader {
  element: HTMLElement;
  render(): void;
}

/** `onCancelled` runs after a cancel was answered (the job object may have moved on). */
export function jobHeader(state: LiveJob, onCancelled: () => void): JobHeader {
  const head = h('div', { class: 'job-head' });
  let confirmUntil = 0;
  let deleteConfirmUntil = 0;
  let refusal: Error | undefined;
  // What the head last showed: most events change none of it, and a button rebuilt between a
  // mousedown and its mouseup loses the click.
  let shown = '';

  function render(): void {
    const j = state.job;
    const cancellable = j.status === 'queued' || j.status === 'running';
    const confirming = Date.now() < confirmUntil;
    const deleting = Date.now() < deleteConfirmUntil;
    const dataset = (j.spec as { dataset?: { source?: string } }).dataset?.source;
    const showing = JSON.stringify([
      j.name,
      j.status,
      j.id,
      age(j.created_at),
      dataset,
      j.backend,
      j.attempts,
      j.error,
      confirming,
      deleting,
      refusal?.message,
    ]);
    if (showing === shown) return;
    shown = showing;
    fill(
      head,
      h(
        'div',
        { class: 'job-title' },
        h('h1', {}, j.name ?? 'untitled job', ' ', statusPill(j.status)),
        cancellable || j.status === 'cancelling'
          ? h(
              'button',
              {
                class: `button ${confirming ? 'danger' : 'ghost-danger'}`,
                'data-testid': 'cancel-job',
                disabled: j.status === 'cancelling',
                onclick: onCancel,
              },
              j.status === 'cancelling' ? 'Cancelling…' : confirming ? 'Click again to cancel' : 'Cancel job',
            )
          : null,
        TERMINAL.has(j.status) ? deleteButton(deleting) : null,
      ),
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'id' }, j.id),
        h('span', { title: new Date(j.created_at).toLocaleString() }, `created ${age(j.created_at)}`),
        dataset ? h('span', {}, dataset) : null,
        j.backend ? h('span', {}, `backend ${j.backend}`) : null,
        j.attempts > 1 ? h('span', {}, `attempt ${j.attempts}`) : null,
      ),
      j.error ? h('div', { class: 'note note-error' }, h('b', {}, j.error.code), ': ', j.error.message) : null,
      refusal === undefined ? null : problemNote(refusal),
    );
  }

  async function onCancel(): Promise<void> {
    if (Date.now() >= confirmUntil) {
      // A second click within a few seconds confirms: no modal dialog, no accidental cancel.
      confirmUntil = Date.now() + CONFIRM_MS;
      render();
      setTimeout(render, CONFIRM_MS + 50);
      return;
    }
    confirmUntil = 0;
    refusal = undefined;
    try {
      const updated = await api<Job>('POST', `/v1/jobs/${state.job.id}/cancel`);
      if (updated.last_event_seq >= state.job.last_event_seq) state.job = { ...updated };
    } catch (err) {
      refusal = err instanceof Error ? err : new Error(String(err));
    }
    render();
    onCancelled();
  }

  function deleteButton(confirming: boolean): HTMLElement {
    const title = 'Deletes its events, files and the models it registered; models other jobs name are kept';
    return h(
      'button',
      { class: `button ${confirming ? 'danger' : 'ghost-danger'}`, 'data-testid': 'delete-job', title, onclick: onDelete },
      confirming ? 'Click again to delete' : 'Delete job',
    );
  }

  async function onDelete(): Promise<void> {
    if (Date.now() >= deleteConfirmUntil) {
      // As for cancel: a second click within a few seconds confirms.
      deleteConfirmUntil = Date.now() + CONFIRM_MS;
      render();
      setTimeout(render, CONFIRM_MS + 50);
      return;
    }
    deleteConfirmUntil = 0;
    refusal = undefined;
    try {
      await api('DELETE', `/v1/jobs/${state.job.id}`);
      location.hash = '#/';
      return;
    } catch (err) {
      refusal = err instanceof Error ? err : new Error(String(err));
    }
    render();
  }

  return { element: head, render };
}
