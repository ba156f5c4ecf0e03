/**
 * A job's report after exports made after the fact: what the new run measured replaces the rows it
 * measured again (same model and runtime) and joins the rest, so the table lists every file the job has.
 */
import type { ExportReport, VariantRow } from './job-exports.js';

const AFTER_THE_FACT =
  'Rows of exports made after the job (POST /v1/jobs/{id}/exports) were measured in that run, against the float student measured with them.';

function mergeBy<T>(old: readonly T[], fresh: readonly T[], key: (row: T) => string): T[] {
  const replaced = new Map(fresh.map((row) => [key(row), row]));
  const kept = old.map((row) => replaced.get(key(row)) ?? row);
  const seen = new Set(old.map(key));
  return [...kept, ...fresh.filter((row) => !seen.has(key(row)))];
}

const union = <T>(a: readonly T[], b: readonly T[]) => [...new Set([...a, ...b])];

export function mergeExportReports(old: ExportReport | undefined, fresh: ExportReport): ExportReport {
  if (!old) return { ...fresh, note: `${fresh.note} ${AFTER_THE_FACT}` };
  return {
    formats: union(old.formats, fresh.formats),
    quantize: union(old.quantize, fresh.quantize),
    onnx_opset: fresh.onnx_opset ?? old.onnx_opset,
    onnx_checks: mergeBy(old.onnx_checks, fresh.onnx_checks, (c) => c.kind),
    variants: mergeBy<VariantRow>(old.variants, fresh.variants, (v) => `${v.artifact} ${v.runtime}`),
    note: old.note.includes(AFTER_THE_FACT) ? old.note : `${old.note} ${AFTER_THE_FACT}`,
  };
}
