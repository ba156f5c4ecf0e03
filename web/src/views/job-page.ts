/**
 * One job: header with status, cancel and delete (./job/header.ts), live progress (./job/progress.ts),
 * the phase timeline, loss and accuracy charts, the log, and once it succeeded the report and the
 * downloads (./job/results.ts). Every event since the first is replayed over the shared socket, so
 * the charts are whole whether the page was opened before, during or after the run.
 */
import { api } from '../api.js';
import { fill, h } from '../dom.js';
import { applyEvent, liveJob, type LiveJob } from '../job-state.js';
import { live } from '../live.js';
import { TERMINAL, type EpochData, type Job, type JobEvent, type MetricsData } from '../types.js';
import { jobHeader } from './job/header.js';
import { renderProgress } from './job/progress.js';
import { renderResults } from './job/results.js';
import { accuracyChart, lossChart } from './job-charts.js';
import { renderTimeline, type PhaseMark } from './phase-timeline.js';
import { problemNote } from './widgets.js';

export function jobPageView(root: HTMLElement, jobId: string): () => void {
  let stopped = false;
  const cleanups: Array<() => void> = [];
  fill(root, h('div', { class: 'muted' }, 'Loading…'));

  api<Job>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`).then(
    (job) => {
      if (!stopped) cleanups.push(mountJob(root, liveJob(job)));
    },
    (err) => {
      if (!stopped) fill(root, h('a', { href: '#/', class: 'back' }, '← Jobs'), problemNote(err));
    },
  );
  return () => {
    stopped = true;
    cleanups.forEach((c) => c());
  };
}

/** Lays the page out, renders the job, and moves it forward with each of its events until unmounted. */
function mountJob(root: HTMLElement, state: LiveJob): () => void {
  const job = () => state.job;
  const progress = h('div', { class: 'job-progress' });
  const header = jobHeader(state, () => renderProgress(progress, job()));
  const timeline = h('div');
  const loss = lossChart();
  const accuracy = accuracyChart();
  const results = h('div', { class: 'stack' });
  const logList = h('ul', { class: 'log' });
  const marks: PhaseMark[] = [];

  fill(
    root,
    h('a', { href: '#/', class: 'back' }, '← Jobs'),
    h('section', { class: 'card' }, header.element, progress),
    h('section', { class: 'card' }, h('h2', {}, 'Phases'), timeline),
    h(
      'div',
      { class: 'grid-2' },
      h('section', { class: 'card' }, h('h2', {}, 'Loss'), loss.element),
      h('section', { class: 'card' }, h('h2', {}, 'Accuracy'), accuracy.element),
    ),
    results,
    h('section', { class: 'card' }, h('h2', {}, 'Log'), logList),
  );

  function renderAll(): void {
    header.render();
    renderProgress(progress, job());
    renderTimeline(timeline, job(), marks);
    void renderResults(results, job());
  }

  function onEvent(event: JobEvent): void {
    const ended = applyEvent(state, event);
    if (event.type === 'metrics') loss.add(event.data as unknown as MetricsData);
    else if (event.type === 'epoch') accuracy.add(event.data as unknown as EpochData);
    else if (event.type === 'phase') marks.push({ phase: String(event.data.phase), at: Date.parse(event.created_at) });
    else if (event.type === 'log') logList.append(logLine(event));
    else if (event.type === 'status' && event.data.status === 'running' && !state.job.started_at) state.job.started_at = event.created_at;
    if (event.type !== 'metrics' && event.type !== 'epoch' && event.type !== 'checkpoint') header.render();
    renderProgress(progress, job());
    if (ended) void refresh();
  }

  /** At the end, the stored job has the result, the timings and the final progress. */
  async function refresh(): Promise<void> {
    try {
      state.job = await api<Job>('GET', `/v1/jobs/${state.job.id}`);
    } catch {
      // The events already told the status; the report shows on the next visit.
    }
    renderAll();
  }

  renderAll();
  // Replay from the first event: the charts need the whole history, not only what comes next.
  state.job.last_event_seq = 0;
  live.subscribe(state.job.id, 0, onEvent);
  const ticker = window.setInterval(() => {
    if (!TERMINAL.has(job().status)) renderTimeline(timeline, job(), marks);
  }, 1000);
  return () => {
    clearInterval(ticker);
    live.unsubscribe(state.job.id);
    loss.destroy();
    accuracy.destroy();
  };
}

function logLine(event: JobEvent): HTMLElement {
  const { level, message } = event.type === 'log' ? event.data : { level: 'info', message: '' };
  return h('li', { class: `log-${level}` }, h('span', { class: 'muted' }, new Date(event.created_at).toLocaleTimeString()), ' ', message);
}
