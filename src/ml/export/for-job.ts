/** The job's side of exporting: which of its evaluated models are exported, under which artifact kinds. */
import type { Evaluated } from '../job-report.js';
import type { ModelArtifacts } from '../models/serialize.js';
import { teacherKey } from '../spec.js';
import { exportsAnything, type ResolvedExport } from '../spec-export.js';
import { buildJobExports, type ExportFile, type ExportReport } from './job-exports.js';

/**
 * `evaluated` in evaluateAll's order (teachers, student, baseline). Given teachers (model_id) are not
 * the job's models and are left out. Nothing to do (undefined) when the job asked only for tfjs.
 */
export async function exportJobModels(
  request: ResolvedExport | undefined,
  evaluated: readonly Evaluated[],
  teachers: number,
  student: ModelArtifacts,
  labels: Int32Array,
): Promise<{ files: ExportFile[]; report: ExportReport } | undefined> {
  if (!request || !exportsAnything(request)) return undefined;
  const kindOf = (i: number) => (i < teachers ? teacherKey(i) : i === teachers ? 'student' : 'baseline');
  const models = evaluated.flatMap((e, i) => (e.origin === 'trained' ? [{ kind: kindOf(i), model: e.built.model, x: e.x }] : []));
  return buildJobExports(request, models, student, labels);
}
