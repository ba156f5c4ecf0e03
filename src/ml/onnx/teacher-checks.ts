/**
 * ONNX teachers as the engine's callers see them, without loading tfjs or onnxruntime (the API checks
 * job specs with this): what a model resolver hands over, and what an ONNX teacher cannot do.
 */
import type { SpecProblem } from '../errors.js';
import type { OnnxInputDeclaration } from './declaration.js';

/** A stored ONNX model as the job's model resolver hands it over: the file and its declared input. */
export interface OnnxModelSource {
  format: 'onnx';
  bytes: Uint8Array;
  declared: OnnxInputDeclaration;
}

export function isOnnxSource(source: unknown): source is OnnxModelSource {
  return typeof source === 'object' && source !== null && (source as { format?: unknown }).format === 'onnx';
}

/** What the report shows of a model the engine runs through a stand-in. */
export interface GivenModelFacts {
  format: 'onnx';
  inputShape: number[];
  parameters: number;
  bytes: number;
  latency(): Promise<{ batch_1: number; batch_256: number }>;
}

type LayerPairs = { pairs: ReadonlyArray<{ teacher_index?: number }> } | undefined;

/** Hint and attention transfer read a teacher's hidden layers, which an ONNX teacher does not expose here. */
export function onnxTeacherProblems(distillation: { hint?: LayerPairs; attention?: LayerPairs } | undefined, teacherIndex: number, id: string): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const kind of ['hint', 'attention'] as const) {
    for (const [i, pair] of (distillation?.[kind]?.pairs ?? []).entries()) {
      if ((pair.teacher_index ?? 0) !== teacherIndex) continue;
      problems.push({
        path: `/distillation/${kind}/pairs/${i}/teacher`,
        message: `${kind} transfer needs a tfjs teacher: teacher ${teacherIndex} (${id}) is an ONNX model, whose hidden layers are not available; distil its logits (method ["logits"]) or give a tfjs layers model`,
      });
    }
  }
  return problems;
}
