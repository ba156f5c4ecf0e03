/**
 * One job: header with status and cancel, live progress, the phase timeline, loss and accuracy charts,
 * and once it succeeded the report and the downloads. Every event since the first is replayed over the
 * shared socket, so the charts are whole whether the page was opened before, during or after the run.
 */
import { api, downloadArtifact } from '../api.js';
import { fill, h } from '../dom.js';
import { age, bytes, duration, phaseLabel } from '../format.js';
import { applyEvent, liveJob, type LiveJob } from '../job-state.js';
import { live } from '../live.js';
import { TERMINAL, type Artifact, type EpochData, type Job, type JobEvent, type List, type MetricsData } from '../types.js';
import { accuracyChart, lossChart } from './job-charts.js';
import { renderTimeline, type PhaseMark } from './phase-timeline.js';
import { reportView } from './report-table.js';
import { problemNote, progressBar, statusPill } from './widgets.js';

const CONFIRM_MS = 5000;

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

function mountJob(root: HTMLElement, state: LiveJob): () => void {
  const job = () => state.job;
  const head = h('div', { class: 'job-head' });
  const progress = h('div', { class: 'job-progress' });
  const timeline = h('div');
  const loss = lossChart();
  const accuracy = accuracyChart();
  const results = h('div', { class: 'stack' });
  const logList = h('ul', { class: 'log' });
  const marks: PhaseMark[] = [];
  let confirmUntil = 0;

  fill(
    root,
    h('a', { href: '#/', class: 'back' }, '← Jobs'),
    h('section', { class: 'card' }, head, progress),
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

  function renderHead(): void {
    const j = job();
    const cancellable = j.status === 'queued' || j.status === 'running';
    const confirming = Date.now() < confirmUntil;
    const dataset = (j.spec as { dataset?: { source?: string } }).dataset?.source;
    fill(
      head,
      h(
        'div',
        { class: 'job-title' },
        h('h1', {}, j.name ?? 'untitled job', ' ', statusPill(j.status)),
        cancellable || j.status === 'cancelling'
          ? h('button', { class: `button ${confirming ? 'danger' : 'ghost-danger'}`, 'data-testid': 'cancel-job', disabled: j.status === 'cancelling', onclick: onCancel }, j.status === 'cancelling' ? 'Cancelling…' : confirming ? 'Click again to cancel' : 'Cancel job')
          : null,
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
    );
  }

  function renderProgress(): void {
    const j = job();
    const p = j.progress;
    const parts = [
      TERMINAL.has(j.status) ? (j.status === 'succeeded' ? 'done' : j.status) : phaseLabel(j.phase),
      p.epoch ? `epoch ${p.epoch}/${p.epochs}` : null,
      p.step && !TERMINAL.has(j.status) ? `step ${p.step}/${p.steps}` : null,
      `${Math.round(p.percent)}%`,
      p.eta_seconds !== null && !TERMINAL.has(j.status) ? `about ${duration(p.eta_seconds)} left` : null,
      j.finished_at && j.started_at ? `took ${duration((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000)}` : null,
    ].filter(Boolean);
    fill(progress, progressBar(p.percent, j.status), h('div', { class: 'progress-text', 'data-testid': 'progress-text' }, parts.join(' · ')));
  }

  async function onCancel(): Promise<void> {
    if (Date.now() >= confirmUntil) {
      // A second click within a few seconds confirms: no modal dialog, no accidental cancel.
      confirmUntil = Date.now() + CONFIRM_MS;
      renderHead();
      setTimeout(renderHead, CONFIRM_MS + 50);
      return;
    }
    confirmUntil = 0;
    try {
      const updated = await api<Job>('POST', `/v1/jobs/${state.job.id}/cancel`);
      if (updated.last_event_seq >= state.job.last_event_seq) state.job = { ...updated };
    } catch (err) {
      head.append(problemNote(err));
    }
    renderHead();
    renderProgress();
  }

  async function renderResults(): Promise<void> {
    const j = job();
    if (j.status !== 'succeeded' || !j.result) return fill(results);
    const reportCard = h('section', { class: 'card' }, h('h2', {}, 'Report'), reportView(j.result));
    const downloads = h('section', { class: 'card' }, h('h2', {}, 'Downloads'), h('div', { class: 'muted' }, 'Loading…'));
    fill(results, reportCard, downloads);
    try {
      const artifacts = await api<List<Artifact>>('GET', `/v1/jobs/${j.id}/artifacts`);
      fill(downloads, h('h2', {}, 'Downloads'), downloadList(j.id, artifacts.data));
    } catch (err) {
      fill(downloads, h('h2', {}, 'Downloads'), problemNote(err));
    }
  }

  function onEvent(event: JobEvent): void {
    const ended = applyEvent(state, event);
    if (event.type === 'metrics') loss.add(event.data as unknown as MetricsData);
    else if (event.type === 'epoch') accuracy.add(event.data as unknown as EpochData);
    else if (event.type === 'phase') marks.push({ phase: String(event.data.phase), at: Date.parse(event.created_at) });
    else if (event.type === 'log') logList.append(logLine(event));
    else if (event.type === 'status' && event.data.status === 'running' && !state.job.started_at) state.job.started_at = event.created_at;
    if (event.type !== 'metrics' && event.type !== 'epoch' && event.type !== 'checkpoint') renderHead();
    renderProgress();
    if (ended) void refresh();
  }

  /** At the end, the stored job has the result, the timings and the final progress. */
  async function refresh(): Promise<void> {
    try {
      state.job = await api<Job>('GET', `/v1/jobs/${state.job.id}`);
    } catch {
      // The events already told the status; the report shows on the next visit.
    }
    renderHead();
    renderProgress();
    renderTimeline(timeline, job(), marks);
    void renderResults();
  }

  renderHead();
  renderProgress();
  renderTimeline(timeline, job(), marks);
  void renderResults();
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

function downloadList(jobId: string, artifacts: Artifact[]): HTMLElement {
  const further = [...new Set(artifacts.map((a) => a.kind).filter((k) => /^teacher\d+$/.test(k)))].sort();
  const kinds = ['student', 'teacher', ...further, 'baseline', 'report'].filter((k) => artifacts.some((a) => a.kind === k));
  return h(
    'div',
    { class: 'downloads' },
    ...kinds.map((kind) =>
      h(
        'div',
        { class: 'download-row' },
        h('span', { class: `role role-${kind}` }, kind),
        ...artifacts
          .filter((a) => a.kind === kind)
          .map((a) => {
            const link = h('a', { href: a.url, class: 'download', 'data-testid': `download-${kind}-${a.file}`, download: `${jobId}-${kind}-${a.file}` }, a.file, h('span', { class: 'muted' }, ` ${bytes(a.bytes)}`));
            link.addEventListener('click', (e) => {
              e.preventDefault();
              downloadArtifact(a, jobId).catch((err: Error) => link.after(h('span', { class: 'note-inline' }, err.message)));
            });
            return link;
          }),
      ),
    ),
    h('p', { class: 'muted small' }, 'A model is model.json + weights.bin side by side: tf.loadLayersModel reads both. Or: distill models download ', h('code', {}, jobId), ' --out DIR'),
  );
}

function logLine(event: JobEvent): HTMLElement {
  const level = String(event.data.level ?? 'info');
  return h('li', { class: `log-${level}` }, h('span', { class: 'muted' }, new Date(event.created_at).toLocaleTimeString()), ' ', String(event.data.message ?? ''));
}
