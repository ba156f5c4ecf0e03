/**
 * The dashboard: a hash router over four views (jobs, a job, new job, datasets), the API key field, and
 * the live connection's state. Served by the API at `/` (src/api/plugins/dashboard.ts).
 */
import './styles.css';
import { apiKey, UNAUTHORIZED_EVENT } from './api.js';
import { fill, h } from './dom.js';
import { live, type LiveState } from './live.js';
import { datasetsView } from './views/datasets.js';
import { jobPageView } from './views/job-page.js';
import { jobsListView } from './views/jobs-list.js';
import { submitFormView } from './views/submit-form.js';

type View = (root: HTMLElement) => () => void;

function route(hash: string): { view: View; nav: string } {
  const path = hash.replace(/^#/, '') || '/';
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  if (job) return { view: (root) => jobPageView(root, decodeURIComponent(job[1]!)), nav: 'jobs' };
  if (path === '/new') return { view: submitFormView, nav: 'new' };
  if (path === '/datasets') return { view: datasetsView, nav: 'datasets' };
  if (path === '/' || path === '/jobs') return { view: jobsListView, nav: 'jobs' };
  return {
    view: (root) => (fill(root, h('section', { class: 'card' }, h('h1', {}, 'Not found'), h('a', { href: '#/' }, 'Back to the jobs'))), () => {}),
    nav: '',
  };
}

function keyControl(): HTMLElement {
  const input = h('input', { type: 'password', placeholder: 'API key', autocomplete: 'off', 'data-testid': 'api-key-input' });
  const button = h('button', { type: 'button', class: 'button key-button', 'data-testid': 'api-key-button' });
  const panel = h(
    'form',
    { class: 'key-panel', hidden: true },
    h('label', { for: 'api-key' }, 'API key for this tab'),
    input,
    h(
      'div',
      { class: 'key-actions' },
      h('button', { type: 'submit', class: 'button primary' }, 'Use key'),
      h('button', { type: 'button', class: 'button', onclick: () => save('') }, 'Forget'),
    ),
    h('p', { class: 'hint' }, 'Kept in this tab only (sessionStorage): closing the tab forgets it.'),
  );
  input.id = 'api-key';
  // Text, not an emoji: machines without an emoji font would show a box.
  const label = () => fill(button, apiKey.get() ? '✓ API key set' : 'API key');
  const save = (key: string) => {
    if (key) apiKey.set(key);
    else apiKey.clear();
    panel.hidden = true;
    label();
    live.restart();
    render(); // the view reloads with the new key
  };
  panel.addEventListener('submit', (e) => {
    e.preventDefault();
    save(input.value.trim());
  });
  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    if (!panel.hidden) input.focus();
  });
  window.addEventListener(UNAUTHORIZED_EVENT, () => {
    panel.hidden = false;
    panel.classList.add('attention');
    input.focus();
  });
  label();
  return h('div', { class: 'key' }, button, panel);
}

const LIVE_TEXT: Record<LiveState, string> = { idle: 'idle', connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' };

const nav = h(
  'nav',
  {},
  h('a', { href: '#/', 'data-nav': 'jobs' }, 'Jobs'),
  h('a', { href: '#/new', 'data-nav': 'new' }, 'New job'),
  h('a', { href: '#/datasets', 'data-nav': 'datasets' }, 'Datasets'),
);
const liveBadge = h('span', { class: 'live-state', title: 'live updates over WebSocket' });
live.onState((state) => {
  liveBadge.className = `live-state live-${state}`;
  fill(liveBadge, LIVE_TEXT[state]);
});
const main = h('main', { id: 'view' });
document.body.append(
  h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '#/' }, h('span', { class: 'brand-mark' }, '◆'), ' distill'),
    nav,
    h('div', { class: 'spacer' }),
    liveBadge,
    keyControl(),
  ),
  main,
);

let teardown: (() => void) | undefined;
function render(): void {
  teardown?.();
  live.unsubscribeAll();
  const { view, nav: active } = route(location.hash);
  nav.querySelectorAll('a').forEach((a) => a.classList.toggle('active', a.dataset.nav === active));
  main.replaceChildren();
  teardown = view(main);
  window.scrollTo(0, 0);
}
window.addEventListener('hashchange', render);
render();
