/**
 * Datasets a job can train on: the server's list (built-in ones first, then uploads) with an upload
 * form (a CSV, or IDX files) and delete. Servers without the datasets API answer 404; the page then
 * shows the two built-in datasets it knows and says uploads are not available.
 */
import { api, apiUpload, ProblemError } from '../api.js';
import { fill, h } from '../dom.js';
import { bytes, count } from '../format.js';
import { BUILTIN as BUILTIN_IDS, type Dataset as WireDataset, type List } from '../types.js';
import { problemNote } from './widgets.js';

/** What the page reads of a dataset: all of it from a server, the id and a few facts for a built-in one known here. */
type Dataset = Pick<WireDataset, 'id'> & Partial<Omit<WireDataset, 'id' | 'error'>> & { error?: { message?: string } | string | null };

const BUILTIN: Dataset[] = [
  { id: BUILTIN_IDS.mnist, name: '10,000 real handwritten digits', format: 'builtin', status: 'ready', input_shape: [28, 28, 1], num_classes: 10 },
  { id: BUILTIN_IDS.synthetic, name: 'generated clusters (dataset.options: classes, features or shape, samples)', format: 'builtin', status: 'ready' },
];
const IDX_ROLES: Array<[RegExp, string]> = [
  [/(t10k|test).*(images|idx3)/i, 'test_images'],
  [/(t10k|test).*(labels|idx1)/i, 'test_labels'],
  [/train.*(images|idx3)/i, 'train_images'],
  [/train.*(labels|idx1)/i, 'train_labels'],
];

export function datasetsView(root: HTMLElement): () => void {
  const listBox = h('div', {}, h('div', { class: 'muted' }, 'Loading…'));
  const uploadBox = h('div');
  fill(root, h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h1', {}, 'Datasets')), listBox), uploadBox);
  let stopped = false;

  async function load(): Promise<void> {
    try {
      const list = await api<List<Dataset>>('GET', '/v1/datasets?limit=100');
      if (stopped) return;
      fill(listBox, table(list.data, remove));
      if (!uploadBox.hasChildNodes()) fill(uploadBox, uploadForm(load));
    } catch (err) {
      if (stopped) return;
      if (err instanceof ProblemError && err.status === 404 && err.code === 'route_not_found') {
        fill(
          listBox,
          table(BUILTIN, remove),
          h(
            'div',
            { class: 'note note-info', 'data-testid': 'uploads-unavailable' },
            'This server takes no dataset uploads. Jobs can use the built-in datasets above.',
          ),
        );
      } else fill(listBox, problemNote(err));
    }
  }

  async function remove(id: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await api('DELETE', `/v1/datasets/${encodeURIComponent(id)}`);
      await load();
    } catch (err) {
      button.disabled = false;
      button.after(problemNote(err));
    }
  }

  void load();
  return () => {
    stopped = true;
  };
}

function uploadForm(reload: () => Promise<void>): HTMLElement {
  const files = h('input', { type: 'file', multiple: true, accept: '.csv,.gz,.idx,.ubyte,application/octet-stream,text/csv', 'data-testid': 'dataset-files' });
  const name = h('input', { type: 'text', placeholder: 'optional', 'data-testid': 'dataset-name' });
  const labelColumn = h('input', { type: 'text', placeholder: 'label', 'data-testid': 'dataset-label-column' });
  const result = h('div');
  const button = h('button', { type: 'submit', class: 'button primary', 'data-testid': 'dataset-upload' }, 'Upload');
  const form = h(
    'form',
    { class: 'upload-form' },
    h(
      'div',
      { class: 'field' },
      h('label', {}, 'Files'),
      files,
      h(
        'div',
        { class: 'hint' },
        "One CSV (a label column and numeric features), or IDX files named like MNIST's: train-images, train-labels, and optionally the t10k/test pair; gzipped or not.",
      ),
    ),
    h(
      'div',
      { class: 'upload-row' },
      h('div', { class: 'field' }, h('label', {}, 'Name'), name),
      h('div', { class: 'field' }, h('label', {}, 'Label column (CSV)'), labelColumn),
    ),
    h('div', { class: 'form-actions' }, button),
    result,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fill(result);
    const chosen = [...(files.files ?? [])];
    if (chosen.length === 0) return fill(result, h('div', { class: 'note note-error' }, 'Choose a CSV file or IDX files first.'));
    const body = new FormData();
    if (name.value.trim()) body.append('name', name.value.trim());
    if (labelColumn.value.trim()) body.append('label_column', labelColumn.value.trim());
    for (const file of chosen) {
      const field = /\.csv(\.gz)?$/i.test(file.name) ? 'csv' : IDX_ROLES.find(([pattern]) => pattern.test(file.name))?.[1];
      if (!field)
        return fill(result, h('div', { class: 'note note-error' }, `Cannot tell what ${file.name} is: name IDX files like train-images-idx3-ubyte.gz.`));
      body.append(field, file, file.name);
    }
    button.disabled = true;
    button.textContent = 'Uploading…';
    try {
      const dataset = await apiUpload<Dataset>('/v1/datasets', body);
      fill(
        result,
        h(
          'div',
          { class: 'note note-info', 'data-testid': 'upload-result' },
          `${dataset.id} is ${dataset.status}: use "source": "${dataset.id}" in a job, or pick it in the New job form.`,
        ),
      );
      form.reset();
      await reload();
    } catch (err) {
      fill(result, problemNote(err));
    } finally {
      button.disabled = false;
      button.textContent = 'Upload';
    }
  });
  return h('section', { class: 'card' }, h('h2', {}, 'Upload a dataset'), form);
}

function table(datasets: Dataset[], remove: (id: string, button: HTMLButtonElement) => Promise<void>): HTMLElement {
  const errorText = (d: Dataset) => (d.error ? (typeof d.error === 'string' ? d.error : (d.error.message ?? '')) : '');
  return h(
    'table',
    { class: 'datasets', 'data-testid': 'datasets-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Id'),
        h('th', {}, 'Name'),
        h('th', {}, 'Format'),
        h('th', {}, 'Status'),
        h('th', {}, 'Samples'),
        h('th', {}, 'Input'),
        h('th', {}, 'Classes'),
        h('th', {}, 'Size'),
        h('th', {}, ''),
      ),
    ),
    h(
      'tbody',
      {},
      ...datasets.map((d) => {
        const builtin = d.id.startsWith('builtin:');
        const del = builtin ? null : h('button', { type: 'button', class: 'button ghost-danger small-button', title: 'Delete this dataset' }, 'Delete');
        del?.addEventListener('click', () => void remove(d.id, del));
        return h(
          'tr',
          { 'data-dataset-id': d.id },
          h('td', { class: 'id' }, d.id),
          h('td', {}, d.name ?? '', errorText(d) ? h('div', { class: 'field-error' }, errorText(d)) : null),
          h('td', {}, d.format ?? ''),
          h(
            'td',
            {},
            d.status ? h('span', { class: `pill pill-${d.status === 'ready' ? 'succeeded' : d.status === 'failed' ? 'failed' : 'running'}` }, d.status) : '',
          ),
          h('td', { class: 'num' }, d.num_train ? `${count(d.num_train)}${d.num_test ? ` / ${count(d.num_test)}` : ''}` : ''),
          h('td', { class: 'num' }, d.input_shape ? d.input_shape.join('×') : ''),
          h('td', { class: 'num' }, d.num_classes ?? ''),
          h('td', { class: 'num' }, d.bytes ? bytes(d.bytes) : ''),
          h('td', {}, del),
        );
      }),
    ),
  );
}
