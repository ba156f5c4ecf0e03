/**
 * The report: teacher, distilled student and baseline side by side, with what distillation bought
 * (compression, speed-up, agreement with the teacher, gain over the baseline) called out above.
 */
import { h } from '../dom.js';
import { bytes, count, duration, pct, times } from '../format.js';
import type { ModelReport, Report } from '../types.js';

type Row = [label: string, hint: string, cell: (m: ModelReport, role: string) => string];

export function reportView(report: Report): HTMLElement {
  const teacher = report.teacher;
  const models: Array<[string, ModelReport]> = [
    ['teacher', report.teacher],
    ['student', report.student],
    ...(report.baseline ? [['baseline', report.baseline] as [string, ModelReport]] : []),
  ];
  const rows: Row[] = [
    ['Test accuracy', 'on the held-out test split', (m) => pct(m.test_accuracy)],
    ['Parameters', '', (m) => count(m.parameters)],
    ['Size', 'model.json + weights.bin', (m) => bytes(m.bytes)],
    ['Latency', 'median ms per sample, batch 1', (m) => m.latency_ms_per_sample.batch_1.toFixed(4)],
    ['Latency (batch 256)', 'median ms per sample', (m) => m.latency_ms_per_sample.batch_256.toFixed(4)],
    ['Compression', 'teacher parameters ÷ these', (m) => times(m.parameters ? teacher.parameters / m.parameters : 0)],
    [
      'Speed-up',
      'teacher latency ÷ this, batch 1',
      (m) => times(m.latency_ms_per_sample.batch_1 ? teacher.latency_ms_per_sample.batch_1 / m.latency_ms_per_sample.batch_1 : 0),
    ],
    [
      'Agreement',
      'same top-1 class as the teacher',
      (_m, role) => (role === 'student' ? pct(report.teacher_student_agreement) : role === 'teacher' ? '—' : 'n/a'),
    ],
  ];
  const gain = report.distillation_gain;
  const highlights = [
    ['Compression', times(report.compression_ratio)],
    ['Speed-up', times(report.speed_up.batch_1)],
    ['Agreement', pct(report.teacher_student_agreement)],
    ...(gain === null ? [] : [['Gain over baseline', `${gain >= 0 ? '+' : ''}${(gain * 100).toFixed(1)} pts`]]),
  ];
  const d = report.dataset;
  return h(
    'div',
    { class: 'report', 'data-testid': 'report' },
    h(
      'div',
      { class: 'highlights' },
      ...highlights.map(([label, value]) =>
        h('div', { class: 'highlight' }, h('div', { class: 'highlight-value' }, value), h('div', { class: 'highlight-label' }, label)),
      ),
    ),
    h(
      'table',
      { class: 'report-table' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), ...models.map(([role]) => h('th', { class: `role role-${role}` }, role)))),
      h(
        'tbody',
        {},
        ...rows.map(([label, hint, cell]) =>
          h(
            'tr',
            {},
            h('th', { title: hint }, label, hint ? h('div', { class: 'hint' }, hint) : null),
            ...models.map(([role, m]) => h('td', { class: `num role-${role}` }, cell(m, role))),
          ),
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted small' },
      `${d.source}: ${count(d.train_samples)} train / ${count(d.validation_samples)} validation / ${count(d.test_samples)} test samples · backend ${report.backend} · ${duration(report.elapsed_seconds)}`,
    ),
  );
}
