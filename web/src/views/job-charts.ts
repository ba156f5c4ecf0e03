/**
 * The job page's two live charts (uPlot): loss over the whole job (teacher, student total with its CE
 * and KD terms, baseline) and accuracy per epoch (train dashed, validation solid, per model). Points
 * are added as events arrive and drawn at most once per frame.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from '../dom.js';
import type { EpochData, MetricsData, ModelRole } from '../types.js';

export const COLORS: Record<ModelRole, string> = { teacher: '#7c3aed', student: '#2563eb', baseline: '#ea580c' };
const HEIGHT = 240;

interface Chart {
  element: HTMLElement;
  /** Points drawn so far (exposed as data-points for tests and curious people). */
  points(): number;
  destroy(): void;
}

function mountChart(options: Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData, testId: string): Chart & { plot: uPlot; redraw(): void } {
  const element = h('div', { class: 'chart', 'data-testid': testId, 'data-points': 0 });
  // A legend of names only: live values would read "—" until hovered, clutter on a chart read by eye.
  const plot = new uPlot({ legend: { live: false }, ...options, width: 600, height: HEIGHT }, data, element);
  const resize = new ResizeObserver(() => {
    const width = element.clientWidth;
    if (width > 0 && width !== plot.width) plot.setSize({ width, height: HEIGHT });
  });
  resize.observe(element);
  let frame = 0;
  const points = () => data[0].length;
  return {
    element,
    plot,
    points,
    redraw() {
      frame ||= requestAnimationFrame(() => {
        frame = 0;
        plot.setData(data);
        element.dataset.points = String(points());
      });
    },
    destroy() {
      cancelAnimationFrame(frame);
      resize.disconnect();
      plot.destroy();
    },
  };
}

const line = (label: string, stroke: string, extra: Partial<uPlot.Series> = {}): uPlot.Series => ({
  label,
  stroke,
  width: 2,
  // Points left to uPlot: drawn while sparse (a lone first sample is visible), hidden once dense.
  value: (_u, v) => (v === null || v === undefined ? '—' : v.toFixed(4)),
  ...extra,
});

const axes = (xLabel: string, yLabel: string): uPlot.Axis[] => [
  { label: xLabel, stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' } },
  { label: yLabel, stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' } },
];

/** Loss against job progress (%): the phases follow each other left to right. */
export function lossChart(): Chart & { add(m: MetricsData): void } {
  // x, teacher, student total, student CE, student KD, baseline
  const data: (number | null)[][] = [[], [], [], [], [], []];
  const chart = mountChart(
    {
      scales: { x: { time: false } },
      axes: axes('job progress (%)', 'loss'),
      series: [
        { label: 'progress', value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)}%`) },
        line('teacher', COLORS.teacher),
        line('student (total)', COLORS.student),
        line('student CE', '#0d9488', { dash: [6, 4], width: 1.5 }),
        line('student KD', '#db2777', { dash: [2, 3], width: 1.5 }),
        line('baseline', COLORS.baseline),
      ],
    },
    data as uPlot.AlignedData,
    'loss-chart',
  );
  return {
    ...chart,
    add(m) {
      const xs = data[0]!;
      // uPlot wants x strictly increasing; progress can repeat between two samples.
      const last = xs.at(-1) ?? -Infinity;
      xs.push(Math.max(m.progress.percent, (last as number) + 1e-6));
      const row: (number | null)[] = [null, null, null, null, null];
      if (m.model === 'teacher') row[0] = m.loss;
      if (m.model === 'student') [row[1], row[2], row[3]] = [m.loss, m.ce ?? null, m.kd ?? null];
      if (m.model === 'baseline') row[4] = m.loss;
      row.forEach((v, i) => data[i + 1]!.push(v));
      chart.redraw();
    },
  };
}

const ROLE_ORDER: ModelRole[] = ['teacher', 'student', 'baseline'];

/** Accuracy per epoch; each model's epochs count from 1, so the three share the x axis. */
export function accuracyChart(): Chart & { add(e: EpochData): void } {
  // x = epoch; then per role: train, validation
  const data: (number | null)[][] = [[], ...ROLE_ORDER.flatMap(() => [[], []])];
  const percent = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);
  const chart = mountChart(
    {
      // Epochs count from 1; at least two on the axis so a first point does not sit alone in the middle.
      scales: {
        x: { time: false, range: (_u, _min, max) => [1, Math.max(2, max ?? 2)] },
        y: { range: (_u, min, max) => [Math.max(0, Math.min(min ?? 0, 0.5) - 0.05), Math.min(1, (max ?? 1) + 0.02)] },
      },
      axes: [
        { ...axes('epoch', '')[0], incrs: [1, 2, 5, 10, 20, 50, 100] },
        { ...axes('', 'accuracy')[1], values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) },
      ],
      series: [
        { label: 'epoch' },
        ...ROLE_ORDER.flatMap((role) => [
          line(`${role} train`, COLORS[role], { dash: [5, 4], width: 1.5, value: percent, points: { show: true, size: 4 } }),
          line(`${role} val`, COLORS[role], { value: percent, points: { show: true, size: 5 } }),
        ]),
      ],
    },
    data as uPlot.AlignedData,
    'accuracy-chart',
  );
  return {
    ...chart,
    add(e) {
      const xs = data[0]!;
      while (xs.length < e.epoch) {
        xs.push(xs.length + 1);
        for (let s = 1; s < data.length; s++) data[s]!.push(null);
      }
      const base = 1 + ROLE_ORDER.indexOf(e.model) * 2;
      data[base]![e.epoch - 1] = e.train_accuracy;
      data[base + 1]![e.epoch - 1] = e.val_accuracy;
      chart.redraw();
    },
  };
}
