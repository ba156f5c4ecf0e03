import Type, { type Static } from 'typebox';
import { component, nullable } from './component.js';

export const OnnxModelInput = component(
  'OnnxModelInput',
  Type.Object(
    {
      layout: Type.Enum(['nchw', 'nhwc']),
      scale: Type.Number({ exclusiveMinimum: 0 }),
      mean: Type.Array(Type.Number(), { minItems: 1 }),
      std: Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1 }),
      output: Type.Enum(['logits', 'probabilities']),
      input_name: Type.String(),
      output_name: Type.String(),
      model_input_shape: Type.Array(Type.Integer({ minimum: 1 }), {
        description: 'One sample as the graph reads it, e.g. [1, 28, 28] for NCHW; `input_shape` is the same sample as a dataset holds it.',
      }),
      opset: Type.Integer({ minimum: 7 }),
    },
    { additionalProperties: false, description: "An ONNX model's declared input and output, and what the check read from its graph." },
  ),
);
export type OnnxModelInput = Static<typeof OnnxModelInput>;

export const Model = component(
  'Model',
  Type.Object(
    {
      id: Type.String({ pattern: '^mdl_[0-9a-z]{26}$' }),
      object: Type.Literal('model'),
      name: nullable(Type.String()),
      source: Type.Enum(['uploaded', 'job'], { description: 'uploaded, or registered by a finished job (its student and trained teacher).' }),
      source_job: nullable(Type.String(), {
        description: "The job that registered it; null for an uploaded model, and for a job's model kept after its job was deleted.",
      }),
      role: nullable(Type.String(), { description: "For a job's model: student, teacher, or teacher1 … teacher7 for the further teachers it trained." }),
      input_shape: Type.Array(nullable(Type.Integer())),
      output_shape: Type.Array(nullable(Type.Integer())),
      parameters: Type.Integer({ minimum: 0 }),
      bytes: Type.Integer({ minimum: 0 }),
      sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      url: Type.String({
        format: 'uri-reference',
        description:
          "`/v1/models/{id}/model.json`: what `tf.loadLayersModel` reads; `/v1/models/{id}/model.onnx` for an ONNX model. Absolute on the server's PUBLIC_URL when it has one.",
      }),
      created_at: Type.String({ format: 'date-time' }),
      format: Type.Enum(['tfjs', 'onnx'], { description: 'tfjs: a layers model (model.json + weights.bin); onnx: one model.onnx run with onnxruntime.' }),
      onnx: Type.Optional(OnnxModelInput),
    },
    { additionalProperties: false },
  ),
);
export type Model = Static<typeof Model>;

/** The files of a stored model, as `GET /v1/models/{id}/{file}` serves them. */
export const MODEL_FILES = ['model.json', 'weights.bin'] as const;
