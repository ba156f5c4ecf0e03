/**
 * The job report as a terminal table: one row per model (teacher, distilled student, baseline) so the
 * three can be compared down a column. Compression and speed-up are relative to the teacher.
 */
import type { ModelReport, Report } from '../../contract/index.js';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const times = (v: number) => `${v >= 10 ? v.toFixed(0) : v.toFixed(1)}×`;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatReportTable(report: Report): string {
  const teacher = report.teacher;
  const rows: Array<[string, ModelReport | undefined, string]> = [
    ['teacher', teacher, '—'],
    ['student', report.student, pct(report.teacher_student_agreement)],
    ['baseline', report.baseline, '—'],
  ];
  const header = ['model', 'test acc', 'params', 'size', 'ms/sample', 'compression', 'speed-up', 'agreement'];
  const body = rows.flatMap(([name, m, agreement]) =>
    m
      ? [
          [
            name,
            pct(m.test_accuracy),
            m.parameters.toLocaleString('en-US'),
            formatBytes(m.bytes),
            m.latency_ms_per_sample.batch_1.toFixed(4),
            times(m.parameters > 0 ? teacher.parameters / m.parameters : 0),
            times(m.latency_ms_per_sample.batch_1 > 0 ? teacher.latency_ms_per_sample.batch_1 / m.latency_ms_per_sample.batch_1 : 0),
            agreement,
          ],
        ]
      : [],
  );
  const table = [header, ...body];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const lines = table.map((row) =>
    row
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  const gain =
    report.distillation_gain === null
      ? ''
      : ` · distillation gain ${report.distillation_gain >= 0 ? '+' : ''}${(report.distillation_gain * 100).toFixed(1)} points over the baseline`;
  const d = report.dataset;
  return [
    ...lines,
    '',
    `compression ${report.compression_ratio}× (size ${report.size_ratio}×) · speed-up ${report.speed_up.batch_1}× at batch 1, ${report.speed_up.batch_256}× at batch 256${gain}`,
    `dataset ${d.source}: ${d.train_samples} train / ${d.validation_samples} validation / ${d.test_samples} test · backend ${report.backend} · ${report.elapsed_seconds.toFixed(1)} s`,
    '',
  ].join('\n');
}
