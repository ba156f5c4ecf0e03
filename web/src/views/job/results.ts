/** A succeeded job's report and its downloads (models, the report); nothing for any other job. */
import { api, downloadArtifact } from '../../api.js';
import { fill, h } from '../../dom.js';
import { bytes } from '../../format.js';
import type { Artifact, Job, List } from '../../types.js';
import { reportView } from '../report-table.js';
import { exportFieldset, exportSpec } from '../submit/export-fields.js';
import { FormFields } from '../submit/fields.js';
import { variantsView } from '../variants-table.js';
import { problemNote } from '../widgets.js';

export async function renderResults(element: HTMLElement, j: Job): Promise<void> {
  if (j.status !== 'succeeded' || !j.result) return fill(element);
  const reportCard = h('section', { class: 'card' }, h('h2', {}, 'Report'), reportView(j.result), j.result.exports ? variantsView(j.result.exports) : null);
  const downloads = h('section', { class: 'card' }, h('h2', {}, 'Downloads'), h('div', { class: 'muted' }, 'Loading…'));
  fill(element, reportCard, exportMore(element, j), downloads);
  try {
    const artifacts = await api<List<Artifact>>('GET', `/v1/jobs/${j.id}/artifacts`);
    fill(downloads, h('h2', {}, 'Downloads'), downloadList(j.id, artifacts.data));
  } catch (err) {
    fill(downloads, h('h2', {}, 'Downloads'), problemNote(err));
  }
}

/** More formats of a finished job, without retraining (POST /v1/jobs/{id}/exports); the report then shows their rows. */
function exportMore(element: HTMLElement, j: Job): HTMLElement {
  const fields = new FormFields();
  const status = h('div', { 'data-testid': 'export-status' });
  const button = h('button', { type: 'submit', class: 'button primary', 'data-testid': 'export-more' }, 'Export');
  const form = h('form', { class: 'export-more', novalidate: true }, exportFieldset(fields, 'Export more, without retraining'), button, status);
  // A job that has ONNX files gets its new variants in ONNX too, unless unchecked.
  (fields.input('export-onnx') as HTMLInputElement).checked = j.result?.exports?.formats.includes('onnx') ?? false;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const spec = exportSpec(fields);
    if (!spec) return fill(status, h('div', { class: 'note note-warn' }, 'Check ONNX or a quantization first.'));
    button.disabled = true;
    fill(status, h('div', { class: 'muted' }, 'Exporting and measuring… (seconds for a small model)'));
    api<unknown>('POST', `/v1/jobs/${j.id}/exports`, spec)
      .then(() => api<Job>('GET', `/v1/jobs/${j.id}`))
      .then(
        (fresh) => renderResults(element, fresh),
        (err: unknown) => {
          button.disabled = false;
          fill(status, problemNote(err));
        },
      );
  });
  return h('section', { class: 'card' }, form);
}

function downloadList(jobId: string, artifacts: Artifact[]): HTMLElement {
  const further = [...new Set(artifacts.map((a) => a.kind).filter((k) => /^teacher\d+$/.test(k)))].sort();
  const kinds = ['student', 'student-float16', 'student-uint8', 'teacher', ...further, 'baseline', 'report'].filter((k) => artifacts.some((a) => a.kind === k));
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
            const link = h(
              'a',
              { href: a.url, class: 'download', 'data-testid': `download-${kind}-${a.file}`, download: `${jobId}-${kind}-${a.file}` },
              a.file,
              h('span', { class: 'muted' }, ` ${bytes(a.bytes)}`),
            );
            link.addEventListener('click', (e) => {
              e.preventDefault();
              downloadArtifact(a, jobId).catch((err: Error) => link.after(h('span', { class: 'note-inline' }, err.message)));
            });
            return link;
          }),
      ),
    ),
    h(
      'p',
      { class: 'muted small' },
      'A model is model.json + weights.bin side by side: tf.loadLayersModel reads both; model.onnx is the same model for ONNX Runtime. Or: distill models download ',
      h('code', {}, jobId),
      ' --out DIR [--format onnx] [--quantize uint8]',
    ),
  );
}
