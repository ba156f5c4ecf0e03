/**
 * What each exported variant of the student costs (report.exports): size, test accuracy, agreement
 * with the float student, latency median with its p25–p75 spread on tfjs and ONNX Runtime.
 */
import { h } from '../dom.js';
import { bytes, pct } from '../format.js';
import type { ExportReport, LatencyStats } from '../types.js';

const ms = (l: LatencyStats) => `${l.median.toFixed(4)} (${l.p25.toFixed(4)}–${l.p75.toFixed(4)})`;

export function variantsView(r: ExportReport): HTMLElement {
  const heads = ['Variant', 'Runtime', 'Size', 'Test accuracy', 'Agrees with float', 'ms/sample batch 1', 'ms/sample batch 256', 'vs float'];
  return h(
    'div',
    { class: 'variants', 'data-testid': 'variants' },
    h('h3', {}, 'Exported variants'),
    h(
      'table',
      { class: 'report-table' },
      h('thead', {}, h('tr', {}, ...heads.map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        ...r.variants.map((v) =>
          h(
            'tr',
            {},
            h('th', {}, `${v.artifact}/${v.file}`),
            h('td', {}, v.runtime),
            h('td', { class: 'num' }, bytes(v.bytes)),
            h('td', { class: 'num' }, pct(v.test_accuracy)),
            h('td', { class: 'num' }, pct(v.agreement_with_float)),
            h('td', { class: 'num' }, ms(v.latency_ms_per_sample.batch_1)),
            h('td', { class: 'num' }, ms(v.latency_ms_per_sample.batch_256)),
            h('td', {}, v.latency_vs_float ? `${v.latency_vs_float.batch_1} / ${v.latency_vs_float.batch_256}` : '—'),
          ),
        ),
      ),
    ),
    h('p', { class: 'muted small' }, r.note),
  );
}
