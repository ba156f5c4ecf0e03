/**
 * Exports of a finished job after the fact, with the report rows its own run would have written. The
 * job's test split is rebuilt from its spec (the same seed splits the same way), so every ONNX file is
 * checked, and every variant scored, on the samples the job's report was made from.
 */
import * as tf from '@tensorflow/tfjs';
import { adaptInputs } from '../data/adapt.js';
import type { DatasetResolver } from '../data/load.js';
import { artifactsToModel, type ModelArtifacts } from '../models/serialize.js';
import { loadSplit } from '../run/prepare.js';
import type { ResolvedExport } from '../spec-export.js';
import { type EngineSpec, withDefaults } from '../spec.js';
import { buildJobExports, type ExportFile, type ExportReport } from './job-exports.js';

export interface FinishedJobModel {
  /** Artifact kind: student, teacher, teacher1…, baseline. The student is required. */
  kind: string;
  artifacts: ModelArtifacts;
}

export async function exportFinishedJob(
  spec: EngineSpec,
  resolveDataset: DatasetResolver,
  models: readonly FinishedJobModel[],
  request: ResolvedExport,
): Promise<{ files: ExportFile[]; report: ExportReport }> {
  const student = models.find((m) => m.kind === 'student');
  if (!student) throw new Error('the student is not among the models to export');
  const split = await loadSplit(withDefaults(spec), resolveDataset);
  const test = tf.tensor(split.test.x, [split.test.y.length, ...split.shape]);
  const loaded: Array<{ kind: string; model: tf.LayersModel; x: tf.Tensor }> = [];
  try {
    // Only the student when nothing but its quantized variants is asked: the other models are exported to ONNX only.
    for (const m of request.formats.includes('onnx') ? models : [student]) {
      const model = await artifactsToModel(m.artifacts);
      loaded.push({ kind: m.kind, model, x: adaptInputs(test, (model.inputs[0]!.shape as number[]).slice(1)) });
    }
    return await buildJobExports(request, loaded, student.artifacts, split.test.y);
  } finally {
    test.dispose();
    for (const m of loaded) {
      m.x.dispose();
      m.model.dispose();
    }
  }
}
