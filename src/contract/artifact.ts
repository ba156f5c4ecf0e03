import Type, { type Static } from 'typebox';
import { component } from './component.js';
import { MODEL_KINDS } from './model-kinds.js';

export const ArtifactKind = component(
  'ArtifactKind',
  Type.Enum([...MODEL_KINDS, 'report', 'student-float16', 'student-uint8'], {
    description: 'teacher1 … teacher7 are the further teachers of a job with `teachers`, when trained by the job (teacher is the first).',
  }),
);
export type ArtifactKind = Static<typeof ArtifactKind>;

export const ArtifactFile = component(
  'ArtifactFile',
  Type.Enum(['model.json', 'weights.bin', 'report.json', 'model.onnx'], {
    description:
      '`model.json` + `weights.bin`: a tfjs layers model; `model.onnx`: the same model in ONNX (with `export.formats` onnx); `report.json`: the report.',
  }),
);
export type ArtifactFile = Static<typeof ArtifactFile>;

export const Artifact = component(
  'Artifact',
  Type.Object(
    {
      object: Type.Literal('artifact'),
      id: Type.String({ pattern: '^art_[0-9a-z]{26}$' }),
      kind: ArtifactKind,
      file: ArtifactFile,
      bytes: Type.Integer({ minimum: 0 }),
      sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      url: Type.String({
        format: 'uri-reference',
        description: "Where to download it: `/v1/jobs/{id}/artifacts/{kind}/{file}`, absolute on the server's PUBLIC_URL when it has one.",
      }),
      created_at: Type.String({ format: 'date-time' }),
    },
    { additionalProperties: false },
  ),
);
export type Artifact = Static<typeof Artifact>;
