/**
 * A finished job's exports: ONNX files of its models (each checked against tfjs on the test split
 * before it is kept), the student's quantized variants in every asked format, and the report rows
 * that say what each variant costs: size, test accuracy, agreement with the float student, latency
 * on tfjs and on ONNX Runtime with median and spread.
 */
import * as tf from '@tensorflow/tfjs';
import { artifactsBytes, artifactsToModel, type ModelArtifacts } from '../models/serialize.js';
import { round } from '../round.js';
import type { ResolvedExport } from '../spec-export.js';
import { exportOnnx, ExportError } from './onnx-export.js';
import { OPSET } from './onnx-graph.js';
import { openOnnx, runOnnx, timeOnnxRun, type OnnxSession } from './onnx-run.js';
import { argmaxRows, compareOutputs, MIN_ARGMAX_AGREEMENT, RELATIVE_TOLERANCE, type OutputComparison } from './onnx-verify.js';
import { compareLatency, LATENCY_PLAN, measure, type LatencyStats, type LatencyVerdict } from './latency.js';
import { quantizeArtifacts, type Quantization } from './quantize.js';

/** One file to store as a job artifact: `<kind>/<file>`. */
export interface ExportFile {
  kind: string;
  file: string;
  data: Uint8Array;
}

export interface ModelToExport {
  /** Artifact kind: student, teacher, teacher1…, baseline. */
  kind: string;
  model: tf.LayersModel;
  /** The test split at this model's input resolution. */
  x: tf.Tensor;
}

export interface VariantRow {
  /** Artifact kind holding its files: student, student-float16, student-uint8. */
  artifact: string;
  weights: 'float32' | Quantization;
  runtime: 'tfjs' | 'onnxruntime';
  file: string;
  /** model.json + weights.bin, or model.onnx. */
  bytes: number;
  test_accuracy: number;
  /** Share of test samples with the same class as the float tfjs student. */
  agreement_with_float: number;
  /** Largest |output difference| from the float tfjs student on the test split. */
  max_abs_output_diff: number;
  latency_ms_per_sample: { batch_1: LatencyStats; batch_256: LatencyStats };
  /** Against the float model on the same runtime (for the float ONNX model: against float tfjs). */
  latency_vs_float: { batch_1: LatencyVerdict; batch_256: LatencyVerdict } | null;
}

export interface ExportReport {
  formats: string[];
  quantize: Quantization[];
  onnx_opset: number | null;
  /** Per exported model: its float ONNX export against tfjs on the test split. */
  onnx_checks: Array<{ kind: string; max_abs_diff: number; max_abs_output: number; argmax_agreement: number; tolerance: number }>;
  variants: VariantRow[];
  note: string;
}

const NOTE =
  'Latency: median and interquartile range (p25–p75) of many runs, one thread; "within noise" when the ranges overlap. ' +
  'onnxruntime runs with every graph optimization, as a server opens the model (8-bit weights may then run in its integer kernels).';

async function outputsOf(model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const out = model.predict(x, { batchSize: 256 }) as tf.Tensor;
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

function accuracy(predicted: Int32Array, labels: Int32Array): number {
  let right = 0;
  predicted.forEach((p, i) => (right += p === labels[i] ? 1 : 0));
  return labels.length ? right / labels.length : 0;
}

interface Timer {
  run(): number | Promise<number>;
  dispose(): void;
}

function tfjsTimer(model: tf.LayersModel, shape: readonly number[], batch: number): Timer {
  const input = tf.zeros([batch, ...shape]);
  const run = () => {
    const t0 = performance.now();
    const out = model.predict(input) as tf.Tensor;
    out.dataSync();
    out.dispose();
    return performance.now() - t0;
  };
  return { run, dispose: () => input.dispose() };
}

async function latencyOf(timer: (batch: number) => Promise<Timer>): Promise<VariantRow['latency_ms_per_sample']> {
  const stats = async (p: (typeof LATENCY_PLAN)[keyof typeof LATENCY_PLAN]) => {
    const t = await timer(p.batch);
    try {
      return await measure(t.run, p.batch, p);
    } finally {
      t.dispose();
    }
  };
  return { batch_1: await stats(LATENCY_PLAN.batch_1), batch_256: await stats(LATENCY_PLAN.batch_256) };
}

/** Checks a float ONNX export against tfjs on the test split: refused (ExportError) outside the tolerance. */
async function checkedOnnx(m: ModelToExport, reference: Float32Array, xValues: Float32Array): Promise<{ bytes: Uint8Array; check: OutputComparison }> {
  const bytes = exportOnnx(m.model);
  const session = await openOnnx(bytes);
  try {
    const out = await runOnnx(session, xValues, m.x.shape.slice(1));
    const check = compareOutputs(reference, out.values, out.classes);
    if (!check.within) {
      throw new ExportError(
        `the ONNX export of the ${m.kind} does not reproduce it: max |Δ| ${check.maxAbsDiff} (allowed ${RELATIVE_TOLERANCE} × ${check.maxAbs}), same class on ${check.argmaxAgreement} of the test split (needed ${MIN_ARGMAX_AGREEMENT})`,
      );
    }
    return { bytes, check };
  } finally {
    await session.release();
  }
}

/**
 * Every file the export asks for, and the report. `models` holds the job's models with the student
 * first among them by kind; `labels` are the test split's.
 */
export async function buildJobExports(
  request: ResolvedExport,
  models: readonly ModelToExport[],
  studentArtifacts: ModelArtifacts,
  labels: Int32Array,
): Promise<{ files: ExportFile[]; report: ExportReport }> {
  const onnx = request.formats.includes('onnx');
  const files: ExportFile[] = [];
  const checks: ExportReport['onnx_checks'] = [];
  const student = models.find((m) => m.kind === 'student');
  if (!student) throw new Error('the student is not among the models to export');
  const studentX = (await student.x.data()) as Float32Array;
  const shape = student.x.shape.slice(1);
  const classes = student.model.outputs[0]!.shape[1] ?? 0;
  const reference = await outputsOf(student.model, student.x);
  const referenceClasses = argmaxRows(reference, classes);

  let studentOnnx: Uint8Array | undefined;
  if (onnx) {
    for (const m of models) {
      const values = m === student ? studentX : ((await m.x.data()) as Float32Array);
      const ref = m === student ? reference : await outputsOf(m.model, m.x);
      const { bytes, check } = await checkedOnnx(m, ref, values);
      files.push({ kind: m.kind, file: 'model.onnx', data: bytes });
      checks.push({
        kind: m.kind,
        max_abs_diff: check.maxAbsDiff,
        max_abs_output: check.maxAbs,
        argmax_agreement: round(check.argmaxAgreement),
        tolerance: RELATIVE_TOLERANCE,
      });
      if (m === student) studentOnnx = bytes;
    }
  }

  const rows: VariantRow[] = [];
  const row = (
    r: Omit<VariantRow, 'test_accuracy' | 'agreement_with_float' | 'max_abs_output_diff' | 'latency_vs_float'>,
    outputs: Float32Array,
  ): VariantRow => {
    const predicted = argmaxRows(outputs, classes);
    const diff = compareOutputs(reference, outputs, classes);
    return {
      ...r,
      test_accuracy: round(accuracy(predicted, labels)),
      agreement_with_float: round(accuracy(predicted, referenceClasses)),
      max_abs_output_diff: round(diff.maxAbsDiff, 6),
      latency_vs_float: null,
    };
  };
  const onnxRow = async (artifact: string, weights: VariantRow['weights'], bytes: Uint8Array): Promise<VariantRow> => {
    const session: OnnxSession = await openOnnx(bytes);
    try {
      const out = await runOnnx(session, studentX, shape);
      const latency = await latencyOf(async (batch) => ({ run: await timeOnnxRun(session, batch, shape), dispose: () => {} }));
      return row({ artifact, weights, runtime: 'onnxruntime', file: 'model.onnx', bytes: bytes.byteLength, latency_ms_per_sample: latency }, out.values);
    } finally {
      await session.release();
    }
  };

  rows.push(
    row(
      {
        artifact: 'student',
        weights: 'float32',
        runtime: 'tfjs',
        file: 'model.json',
        bytes: artifactsBytes(studentArtifacts),
        latency_ms_per_sample: await latencyOf(async (b) => tfjsTimer(student.model, shape, b)),
      },
      reference,
    ),
  );
  if (studentOnnx) rows.push(await onnxRow('student', 'float32', studentOnnx));
  for (const kind of request.quantize) {
    const artifact = `student-${kind}`;
    const quantized = quantizeArtifacts(studentArtifacts, kind);
    files.push({ kind: artifact, file: 'model.json', data: new TextEncoder().encode(JSON.stringify(quantized.modelJson)) });
    files.push({ kind: artifact, file: 'weights.bin', data: quantized.weights });
    // Scored as any tfjs app would load it: the manifest's quantization dequantized by tfjs itself.
    const loaded = await artifactsToModel(quantized);
    try {
      rows.push(
        row(
          {
            artifact,
            weights: kind,
            runtime: 'tfjs',
            file: 'model.json',
            bytes: artifactsBytes(quantized),
            latency_ms_per_sample: await latencyOf(async (b) => tfjsTimer(loaded, shape, b)),
          },
          await outputsOf(loaded, student.x),
        ),
      );
    } finally {
      loaded.dispose();
    }
    if (onnx) {
      const bytes = exportOnnx(student.model, { quantize: kind });
      files.push({ kind: artifact, file: 'model.onnx', data: bytes });
      rows.push(await onnxRow(artifact, kind, bytes));
    }
  }
  const floatOf = (r: VariantRow) => rows.find((f) => f.weights === 'float32' && f.runtime === (r.weights === 'float32' ? 'tfjs' : r.runtime))!;
  for (const r of rows) {
    if (r === rows[0]) continue;
    const base = floatOf(r).latency_ms_per_sample;
    r.latency_vs_float = {
      batch_1: compareLatency(r.latency_ms_per_sample.batch_1, base.batch_1),
      batch_256: compareLatency(r.latency_ms_per_sample.batch_256, base.batch_256),
    };
  }
  return {
    files,
    report: { formats: request.formats, quantize: request.quantize, onnx_opset: onnx ? OPSET : null, onnx_checks: checks, variants: rows, note: NOTE },
  };
}
