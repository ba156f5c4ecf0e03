/**
 * Datasets a job can train on. GET /v1/datasets (where the server has it) lists built-in and uploaded
 * ones; servers without the datasets API answer 404 and the page shows the two built-in ones it knows.
 */
import { api, ProblemError } from '../api.js';
import { fill, h } from '../dom.js';
import { bytes, count } from '../format.js';
import type { List } from '../types.js';
import { problemNote } from './widgets.js';

interface Dataset {
  id: string;
  name?: string;
  format?: string;
  status?: string;
  num_train?: number;
  num_test?: number;
  input_shape?: number[];
  num_classes?: number;
  bytes?: number;
  created_at?: string;
}

const BUILTIN: Dataset[] = [
  { id: 'builtin:mnist', name: 'MNIST digits (10,000 real handwritten digits)', format: 'builtin', status: 'ready', input_shape: [28, 28, 1], num_classes: 10 },
  { id: 'builtin:synthetic', name: 'Synthetic clusters (options: classes, features or shape, samples, difficulty)', format: 'builtin', status: 'ready', num_classes: 10 },
];

export function datasetsView(root: HTMLElement): () => void {
  const body = h('div', {}, h('div', { class: 'muted' }, 'Loading…'));
  fill(root, h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h1', {}, 'Datasets')), body));
  let stopped = false;
  api<List<Dataset>>('GET', '/v1/datasets?limit=100').then(
    (list) => !stopped && fill(body, table(list.data)),
    (err) => {
      if (stopped) return;
      if (err instanceof ProblemError && err.status === 404 && err.code === 'route_not_found') {
        fill(
          body,
          table(BUILTIN),
          h('div', { class: 'note note-info', 'data-testid': 'uploads-unavailable' }, 'This server does not take dataset uploads yet. Jobs can use the built-in datasets above; ', h('code', {}, 'distill run'), ' trains on a local CSV or IDX folder (see examples/).'),
        );
      } else fill(body, problemNote(err));
    },
  );
  return () => {
    stopped = true;
  };
}

function table(datasets: Dataset[]): HTMLElement {
  return h(
    'table',
    { class: 'datasets', 'data-testid': 'datasets-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Name'), h('th', {}, 'Format'), h('th', {}, 'Status'), h('th', {}, 'Samples'), h('th', {}, 'Input'), h('th', {}, 'Classes'), h('th', {}, 'Size'))),
    h(
      'tbody',
      {},
      ...datasets.map((d) =>
        h(
          'tr',
          {},
          h('td', { class: 'id' }, d.id),
          h('td', {}, d.name ?? ''),
          h('td', {}, d.format ?? ''),
          h('td', {}, d.status ? h('span', { class: `pill pill-${d.status === 'ready' ? 'succeeded' : d.status === 'failed' ? 'failed' : 'running'}` }, d.status) : ''),
          h('td', { class: 'num' }, d.num_train !== undefined ? `${count(d.num_train)} / ${count(d.num_test ?? 0)}` : ''),
          h('td', { class: 'num' }, d.input_shape ? d.input_shape.join('×') : ''),
          h('td', { class: 'num' }, d.num_classes ?? ''),
          h('td', { class: 'num' }, d.bytes !== undefined ? bytes(d.bytes) : ''),
        ),
      ),
    ),
  );
}
