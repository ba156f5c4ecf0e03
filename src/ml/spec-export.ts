/**
 * The `export` part of a job spec: which formats the job's models are written in, and which
 * post-training weight quantizations of the student are made (each scored in the report).
 */
import Type, { type Static } from 'typebox';

export const EXPORT_FORMATS = ['tfjs', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const ExportSpecSchema = Type.Object(
  {
    formats: Type.Optional(
      Type.Array(Type.Union([Type.Literal('tfjs'), Type.Literal('onnx')]), {
        minItems: 1,
        uniqueItems: true,
        description:
          "Formats every model of the job is written in. tfjs: model.json + weights.bin (always written: the job's models are registered in it). " +
          'onnx: model.onnx (opset 13, input NHWC as in tfjs, output the same logits), beside them. Default: ["tfjs"].',
      }),
    ),
    quantize: Type.Optional(
      Type.Array(Type.Union([Type.Literal('float16'), Type.Literal('uint8')]), {
        uniqueItems: true,
        description:
          'Post-training weight quantizations of the student, each in every asked format: artifacts student-float16 / student-uint8 ' +
          '(tfjs weights-manifest quantization that stock tf.loadLayersModel dequantizes; ONNX with Cast / DequantizeLinear on the weights). ' +
          'The report scores each (size, test accuracy, agreement with the float student, latency). Default: [].',
      }),
    ),
  },
  { additionalProperties: false, description: 'Formats and quantized variants of the models. Default: tfjs only, no quantization.' },
);
export type ExportSpec = Static<typeof ExportSpecSchema>;

export interface ResolvedExport {
  formats: ExportFormat[];
  quantize: Array<'float16' | 'uint8'>;
}

export function resolveExport(spec: ExportSpec | undefined): ResolvedExport {
  const formats = spec?.formats ?? ['tfjs'];
  return { formats: formats.includes('tfjs') ? [...formats] : ['tfjs', ...formats], quantize: [...(spec?.quantize ?? [])] };
}

/** Whether a job spec asks for anything beyond the float tfjs models every job writes. */
export const exportsAnything = (e: ResolvedExport) => e.formats.includes('onnx') || e.quantize.length > 0;
