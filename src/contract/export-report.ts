import Type, { type Static } from 'typebox';
import { component } from './component.js';

const Share = Type.Number({ minimum: 0, maximum: 1 });

export const LatencyStats = component(
  'LatencyStats',
  Type.Object(
    { median: Type.Number({ minimum: 0 }), p25: Type.Number({ minimum: 0 }), p75: Type.Number({ minimum: 0 }), runs: Type.Integer({ minimum: 1 }) },
    { additionalProperties: false, description: 'Milliseconds per sample over many runs (one thread): median and interquartile range.' },
  ),
);
export type LatencyStats = Static<typeof LatencyStats>;

export const LatencyVerdict = component(
  'LatencyVerdict',
  Type.Enum(['faster', 'slower', 'within noise'], { description: '"within noise" when the interquartile ranges overlap.' }),
);
export type LatencyVerdict = Static<typeof LatencyVerdict>;

const PerBatch = <T extends Parameters<typeof Type.Object>[0][string]>(item: T) =>
  Type.Object({ batch_1: item, batch_256: item }, { additionalProperties: false });

export const ExportReport = component(
  'ExportReport',
  Type.Object(
    {
      formats: Type.Array(Type.Enum(['tfjs', 'onnx'])),
      quantize: Type.Array(Type.Enum(['float16', 'uint8'])),
      onnx_opset: Type.Union([Type.Integer(), Type.Null()]),
      onnx_checks: Type.Array(
        Type.Object(
          {
            kind: Type.String(),
            max_abs_diff: Type.Number({ minimum: 0 }),
            max_abs_output: Type.Number({ minimum: 0 }),
            argmax_agreement: Share,
            tolerance: Type.Number({ description: 'max_abs_diff is at most tolerance × max_abs_output.' }),
          },
          { additionalProperties: false },
        ),
        { description: 'Per model, its float ONNX export run in ONNX Runtime against tfjs on the test split.' },
      ),
      variants: Type.Array(
        Type.Object(
          {
            artifact: Type.Enum(['student', 'student-float16', 'student-uint8']),
            weights: Type.Enum(['float32', 'float16', 'uint8']),
            runtime: Type.Enum(['tfjs', 'onnxruntime']),
            file: Type.Enum(['model.json', 'model.onnx']),
            bytes: Type.Integer({ minimum: 0 }),
            test_accuracy: Share,
            agreement_with_float: Type.Number({ minimum: 0, maximum: 1, description: 'Share of test samples with the class of the float tfjs student.' }),
            max_abs_output_diff: Type.Number({ minimum: 0 }),
            latency_ms_per_sample: PerBatch(LatencyStats),
            latency_vs_float: Type.Union([Type.Null(), PerBatch(LatencyVerdict)], {
              description: 'Against the float model on the same runtime (the float ONNX row against float tfjs); null on the float tfjs row.',
            }),
          },
          { additionalProperties: false },
        ),
      ),
      note: Type.String(),
    },
    { additionalProperties: false, description: 'Jobs with `export`: each ONNX export checked against tfjs, and one row per variant of the student.' },
  ),
);
export type ExportReport = Static<typeof ExportReport>;
