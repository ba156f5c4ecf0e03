/**
 * The submit form: dataset, teacher and student presets, epochs, T, α and baseline, or the whole job
 * body as JSON. The server is the one judge of a job: its 400 problem lists `errors[{field, message}]`
 * with JSON pointers, and each is shown next to the input that owns the pointer (the longest prefix).
 */
import { api, ProblemError } from '../api.js';
import { fill, h } from '../dom.js';
import type { FieldError, Job, List } from '../types.js';
import { problemNote } from './widgets.js';

const PRESETS: Array<[string, string]> = [
  ['hinton-teacher', 'hinton-teacher (2×1200, dropout)'],
  ['hinton-student', 'hinton-student (2×800)'],
  ['cnn-teacher', 'cnn-teacher (convnet)'],
  ['cnn-student', 'cnn-student (small convnet)'],
  ['mlp-tiny', 'mlp-tiny (1×32)'],
  ['linear', 'linear (softmax regression)'],
];
const BUILTIN_DATASETS: Array<[string, string]> = [
  ['builtin:synthetic', 'builtin:synthetic (generated)'],
  ['builtin:mnist', 'builtin:mnist (10,000 digits)'],
];

interface Field {
  input: HTMLInputElement | HTMLSelectElement;
  /** JSON pointers this input answers for. */
  owns: string[];
  message: HTMLElement;
}

export function submitFormView(root: HTMLElement): () => void {
  const fields = new Map<string, Field>();
  const field = (id: string, label: string, input: HTMLInputElement | HTMLSelectElement, owns: string[], hint = '') => {
    input.id = `f-${id}`;
    input.name = id;
    const message = h('div', { class: 'field-error', 'data-error-for': id, role: 'alert' });
    fields.set(id, { input, owns, message });
    return h('div', { class: 'field', 'data-field': id }, h('label', { for: input.id }, label), input, hint ? h('div', { class: 'hint' }, hint) : null, message);
  };
  const text = (value = '', placeholder = '') => h('input', { type: 'text', value, placeholder, autocomplete: 'off', spellcheck: 'false' });
  const number = (value: string, placeholder = '') => h('input', { type: 'text', inputmode: 'decimal', value, placeholder, autocomplete: 'off' });
  const select = (options: Array<[string, string]>, selected: string) => h('select', {}, ...options.map(([value, label]) => h('option', { value, selected: value === selected }, label)));
  const baseline = h('input', { type: 'checkbox', checked: true });

  const datasetSelect = select(BUILTIN_DATASETS, 'builtin:synthetic');
  const form = h(
    'form',
    { class: 'submit-form', novalidate: true, 'data-testid': 'submit-form' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Job and data'),
      field('name', 'Name', text('', 'my-distillation'), ['/name']),
      field('dataset', 'Dataset', datasetSelect, ['/dataset/source', '/dataset']),
      field('samples', 'Training samples', number('', 'all'), ['/dataset/limit'], 'Use at most this many (a transfer set). Empty: all.'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Teacher'),
      field('teacher-preset', 'Model', select(PRESETS, 'hinton-teacher'), ['/teacher/model', '/teacher']),
      field('teacher-epochs', 'Epochs', number('3'), ['/teacher/training']),
      field('teacher-lr', 'Learning rate', number('', '0.001'), ['/teacher/training/learning_rate']),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Student'),
      field('student-preset', 'Model', select(PRESETS, 'mlp-tiny'), ['/student/model', '/student']),
      field('student-shape', 'Input shape', text('', 'as the dataset'), ['/student/model/input_shape'], 'e.g. 16,16,1: the student reads smaller images.'),
      field('student-epochs', 'Epochs', number('3'), ['/student/training']),
      field('student-lr', 'Learning rate', number('', '0.001'), ['/student/training/learning_rate']),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Distillation'),
      field('temperature', 'Temperature T', number('4'), ['/distillation/temperature'], 'Softens the teacher\'s targets.'),
      field('alpha', 'α (soft-target weight)', number('0.9'), ['/distillation/alpha'], 'Between 0 and 1; the hard labels get 1−α.'),
      field('baseline', 'Baseline', baseline, ['/distillation/baseline', '/distillation', '/'], 'Also train the student without the teacher, to compare.'),
    ),
  );
  (fields.get('baseline')!.input.parentElement as HTMLElement).classList.add('field-check');

  const json = h('textarea', { class: 'json', rows: 22, spellcheck: 'false', 'data-testid': 'json-spec' });
  const jsonErrors = h('ul', { class: 'json-errors' });
  const jsonPane = h('div', { class: 'json-pane', hidden: true }, h('p', { class: 'muted small' }, 'The job body as POST /v1/jobs takes it (see examples/ and /docs). Fields the form lacks — seed, metadata, layers, webhook — go here.'), json, jsonErrors);
  const summary = h('div');
  const submit = h('button', { type: 'button', class: 'button primary', 'data-testid': 'submit-job' }, 'Submit job');
  let mode: 'form' | 'json' = 'form';
  const tabs = h(
    'div',
    { class: 'tabs', role: 'tablist' },
    h('button', { type: 'button', class: 'tab active', 'data-tab': 'form', onclick: () => switchTo('form') }, 'Form'),
    h('button', { type: 'button', class: 'tab', 'data-tab': 'json', onclick: () => switchTo('json') }, 'JSON spec'),
  );

  function switchTo(next: 'form' | 'json'): void {
    if (next === 'json' && mode === 'form') json.value = JSON.stringify(bodyFromForm(), null, 2);
    mode = next;
    form.hidden = next !== 'form';
    jsonPane.hidden = next !== 'json';
    tabs.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', (t as HTMLElement).dataset.tab === next));
    clearErrors();
  }

  const value = (id: string) => fields.get(id)!.input.value.trim();
  /** A typed number, or the text as typed when it is not one: the server then says what is wrong. */
  const numeric = (id: string): number | string | undefined => (value(id) === '' ? undefined : Number.isFinite(Number(value(id))) ? Number(value(id)) : value(id));
  /** Only the fields the user filled in: the server's documented defaults apply to the rest. */
  const training = (role: string) => {
    const [epochs, lr] = [numeric(`${role}-epochs`), numeric(`${role}-lr`)];
    return { ...(epochs !== undefined ? { epochs } : {}), ...(lr !== undefined ? { learning_rate: lr } : {}) };
  };
  function bodyFromForm(): Record<string, unknown> {
    const samples = numeric('samples');
    const shape = value('student-shape');
    return {
      ...(value('name') ? { name: value('name') } : {}),
      dataset: { source: value('dataset'), ...(samples !== undefined ? { limit: { train: samples } } : {}) },
      teacher: { model: { preset: value('teacher-preset') }, training: training('teacher') },
      student: {
        model: { preset: value('student-preset'), ...(shape ? { input_shape: shape.split(/[\s,×x]+/).map((d) => (Number.isInteger(Number(d)) ? Number(d) : d)) } : {}) },
        training: training('student'),
      },
      distillation: { temperature: numeric('temperature'), alpha: numeric('alpha'), baseline: baseline.checked },
    };
  }

  function clearErrors(): void {
    fill(summary);
    fill(jsonErrors);
    for (const f of fields.values()) {
      fill(f.message);
      f.input.removeAttribute('aria-invalid');
    }
  }

  /** The input owning the longest prefix of the pointer (segment-wise), if any. */
  function ownerOf(pointer: string): Field | undefined {
    let best: Field | undefined;
    let bestLength = -1;
    for (const f of fields.values()) {
      for (const own of f.owns) {
        const matches = own === '/' ? pointer === '/' || pointer === '' : pointer === own || pointer.startsWith(`${own}/`);
        if (matches && own.length > bestLength) [best, bestLength] = [f, own.length];
      }
    }
    return best;
  }

  function showErrors(err: ProblemError): void {
    fill(summary, h('div', { class: 'note note-error', 'data-testid': 'submit-error' }, `The server refused this job: ${err.detail}`));
    const unplaced: FieldError[] = [];
    // A teacher is `{model, training}` or `{model_id}`: a mistake inside one also draws complaints from
    // the other branch ("must have required property model_id", "must not have additional properties"),
    // at the object or a missing child of it. The error deeper in the same object is the one that helps.
    const parent = (pointer: string) => pointer.slice(0, pointer.lastIndexOf('/'));
    const explainedBy = (e: FieldError, d: FieldError) =>
      d.field.startsWith(`${e.field}/`) || (/required propert/.test(e.message) && d !== e && d.field.startsWith(`${parent(e.field)}/`) && d.field.split('/').length > e.field.split('/').length);
    const specific = err.errors.filter((e) => !err.errors.some((d) => explainedBy(e, d)));
    for (const e of specific) {
      const owner = mode === 'form' ? ownerOf(e.field) : undefined;
      if (!owner) {
        unplaced.push(e);
        continue;
      }
      owner.message.append(h('div', {}, e.message));
      owner.input.setAttribute('aria-invalid', 'true');
    }
    const list = mode === 'json' ? jsonErrors : summary;
    for (const e of unplaced) list.append(h('li', { class: 'field-error' }, h('code', {}, e.field || '/'), ' ', e.message));
  }

  async function onSubmit(event: Event): Promise<void> {
    event.preventDefault();
    clearErrors();
    let body: unknown;
    if (mode === 'json') {
      try {
        body = JSON.parse(json.value);
      } catch (err) {
        jsonErrors.append(h('li', { class: 'field-error' }, `Not valid JSON: ${(err as Error).message}`));
        return;
      }
    } else body = bodyFromForm();
    submit.disabled = true;
    submit.textContent = 'Submitting…';
    try {
      // One key per attempt: a double click or a retried request cannot create two jobs.
      const job = await api<Job>('POST', '/v1/jobs', body, { 'idempotency-key': crypto.randomUUID() });
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      if (err instanceof ProblemError && err.status === 400) showErrors(err);
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
  fill(root, h('a', { href: '#/', class: 'back' }, '← Jobs'), h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h1', {}, 'New job'), tabs), summary, container, actions));

  // Uploaded datasets join the built-in ones where the server has the datasets API.
  let stopped = false;
  // (The list starts with the built-in ones, already in the select; only ready uploads can be trained on.)
  api<List<{ id: string; name?: string | null; status?: string }>>('GET', '/v1/datasets?limit=100').then(
    (list) => {
      if (stopped) return;
      const known = new Set(BUILTIN_DATASETS.map(([id]) => id));
      for (const d of list.data.filter((d) => !known.has(d.id) && d.status === 'ready')) {
        datasetSelect.append(h('option', { value: d.id }, d.name ? `${d.name} (${d.id})` : d.id));
      }
    },
    () => {},
  );
  return () => {
    stopped = true;
  };
}
