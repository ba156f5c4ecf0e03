/** A job's report after exports made after the fact: rows measured again replace theirs, new ones join, none is lost. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExportReport, VariantRow } from '../../src/ml/export/job-exports.js';
import { mergeExportReports } from '../../src/ml/export/merge-report.js';

const stats = { median: 0.1, p25: 0.09, p75: 0.11, runs: 30 };
const row = (artifact: string, runtime: VariantRow['runtime'], test_accuracy: number): VariantRow =>
  ({
    artifact,
    weights: artifact === 'student' ? 'float32' : (artifact.split('-')[1] as VariantRow['weights']),
    runtime,
    file: runtime === 'tfjs' ? 'model.json' : 'model.onnx',
    bytes: 100,
    test_accuracy,
    agreement_with_float: 1,
    max_abs_output_diff: 0,
    latency_ms_per_sample: { batch_1: stats, batch_256: stats },
    latency_vs_float: null,
  }) as VariantRow;

const report = (r: Partial<ExportReport>): ExportReport => ({
  formats: ['tfjs'],
  quantize: [],
  onnx_opset: null,
  onnx_checks: [],
  variants: [],
  note: 'Latency: medians.',
  ...r,
});

describe('mergeExportReports', () => {
  test('into a report without exports: the new section, with a note saying when it was measured', () => {
    const fresh = report({ quantize: ['uint8'], variants: [row('student', 'tfjs', 0.9), row('student-uint8', 'tfjs', 0.89)] });
    const merged = mergeExportReports(undefined, fresh);
    assert.deepEqual(merged.variants, fresh.variants);
    assert.match(merged.note, /after the job/);
  });

  test('into a report with exports: re-measured rows replace theirs in place, new ones follow, formats and quantizations are the union', () => {
    const old = report({
      formats: ['tfjs', 'onnx'],
      quantize: ['float16'],
      onnx_opset: 13,
      onnx_checks: [{ kind: 'student', max_abs_diff: 1e-7, max_abs_output: 3, argmax_agreement: 1, tolerance: 1e-4 }],
      variants: [row('student', 'tfjs', 0.9), row('student', 'onnxruntime', 0.9), row('student-float16', 'tfjs', 0.9)],
    });
    const fresh = report({ quantize: ['uint8'], variants: [row('student', 'tfjs', 0.91), row('student-uint8', 'tfjs', 0.88)] });
    const merged = mergeExportReports(old, fresh);
    assert.deepEqual(
      merged.variants.map((v) => [v.artifact, v.runtime, v.test_accuracy]),
      [
        ['student', 'tfjs', 0.91],
        ['student', 'onnxruntime', 0.9],
        ['student-float16', 'tfjs', 0.9],
        ['student-uint8', 'tfjs', 0.88],
      ],
    );
    assert.deepEqual(merged.formats, ['tfjs', 'onnx']);
    assert.deepEqual(merged.quantize, ['float16', 'uint8']);
    assert.equal(merged.onnx_opset, 13, 'kept from the job although this export made no ONNX file');
    assert.deepEqual(merged.onnx_checks, old.onnx_checks);
    assert.equal(mergeExportReports(merged, fresh).note, merged.note, 'the note says it once');
  });
});
