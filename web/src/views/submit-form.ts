/**
 * The submit page: the job as a form (./submit/job-form.ts) or as the whole job body in JSON. The
 * server is the one judge of a job: its 400 problem lists `errors[{field, message}]` with JSON
 * pointers, and each is shown next to the input that owns the pointer (./submit/problems.ts).
 */
import { api, ProblemError } from '../api.js';
import { fill, h } from '../dom.js';
import type { Job } from '../types.js';
import { jobForm } from './submit/job-form.js';
import { showProblems } from './submit/problems.js';
import { problemNote } from './widgets.js';

type Mode = 'form' | 'json';

export function submitFormView(root: HTMLElement): () => void {
  const { form, fields, body: bodyFromForm, loadDatasets } = jobForm();
  const json = h('textarea', { class: 'json', rows: 22, spellcheck: 'false', 'data-testid': 'json-spec' });
  const jsonErrors = h('ul', { class: 'json-errors' });
  const jsonPane = h(
    'div',
    { class: 'json-pane', hidden: true },
    h(
      'p',
      { class: 'muted small' },
      'The job body as POST /v1/jobs takes it (see examples/ and /docs). Fields the form lacks — seed, metadata, layers, webhook — go here.',
    ),
    json,
    jsonErrors,
  );
  const summary = h('div');
  const submit = h('button', { type: 'button', class: 'button primary', 'data-testid': 'submit-job' }, 'Submit job');
  let mode: Mode = 'form';
  const tabs = h(
    'div',
    { class: 'tabs', role: 'tablist' },
    h('button', { type: 'button', class: 'tab active', 'data-tab': 'form', onclick: () => switchTo('form') }, 'Form'),
    h('button', { type: 'button', class: 'tab', 'data-tab': 'json', onclick: () => switchTo('json') }, 'JSON spec'),
  );

  function switchTo(next: Mode): void {
    if (next === 'json' && mode === 'form') json.value = JSON.stringify(bodyFromForm(), null, 2);
    mode = next;
    form.hidden = next !== 'form';
    jsonPane.hidden = next !== 'json';
    tabs.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', (t as HTMLElement).dataset.tab === next));
    clearErrors();
  }

  function clearErrors(): void {
    fill(summary);
    fill(jsonErrors);
    fields.clearErrors();
  }

  /** The body to send, or undefined (with the reason shown) when the JSON does not parse. */
  function bodyToSend(): unknown {
    if (mode === 'form') return bodyFromForm();
    try {
      return JSON.parse(json.value);
    } catch (err) {
      jsonErrors.append(h('li', { class: 'field-error' }, `Not valid JSON: ${(err as Error).message}`));
      return undefined;
    }
  }

  async function onSubmit(event: Event): Promise<void> {
    event.preventDefault();
    clearErrors();
    const body = bodyToSend();
    if (body === undefined) return;
    submit.disabled = true;
    submit.textContent = 'Submitting…';
    try {
      // One key per attempt: a double click or a retried request cannot create two jobs.
      const job = await api<Job>('POST', '/v1/jobs', body, { 'idempotency-key': crypto.randomUUID() });
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      if (err instanceof ProblemError && err.status === 400)
        showProblems(err, summary, mode === 'json' ? jsonErrors : summary, mode === 'form' ? fields : undefined);
      else fill(summary, problemNote(err));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Submit job';
    }
  }

  const container = h('div', {}, form, jsonPane);
  // The button sits below both panes; Enter in a form input submits too.
  form.addEventListener('submit', (e) => void onSubmit(e));
  submit.addEventListener('click', (e) => void onSubmit(e));
  const actions = h('div', { class: 'form-actions' }, submit, h('span', { class: 'muted small' }, 'The server checks the job and says what to fix.'));
  fill(
    root,
    h('a', { href: '#/', class: 'back' }, '← Jobs'),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h1', {}, 'New job'), tabs), summary, container, actions),
  );
  // Uploaded datasets join the built-in ones where the server has the datasets API.
  return loadDatasets();
}
