import Type, { type Static } from 'typebox';
import { BUILTIN_DATASET_IDS } from './builtin-datasets.js';
import { component, nullable } from './component.js';

export const Dataset = component(
  'Dataset',
  Type.Object(
    {
      id: Type.String({ pattern: `^(ds_[0-9a-z]{26}|${BUILTIN_DATASET_IDS.join('|')})$` }),
      object: Type.Literal('dataset'),
      name: nullable(Type.String()),
      format: Type.Enum(['idx', 'csv', 'builtin']),
      status: Type.Enum(['processing', 'ready', 'failed']),
      error: Type.Unknown({ description: 'Why a failed dataset failed; null otherwise.' }),
      num_train: nullable(Type.Integer({ minimum: 0 })),
      num_test: nullable(Type.Integer({ minimum: 0 })),
      input_shape: nullable(Type.Array(Type.Integer({ minimum: 1 }))),
      num_classes: nullable(Type.Integer({ minimum: 0 })),
      class_names: Type.Array(Type.String()),
      bytes: Type.Integer({ minimum: 0, description: "Bytes stored (counted against the tenant's storage quota)." }),
      sha256: nullable(Type.String({ pattern: '^[0-9a-f]{64}$' })),
      created_at: nullable(Type.String({ format: 'date-time' })),
    },
    { additionalProperties: false, description: 'A dataset; the built-in ones have `format` builtin and null sizes where they depend on `dataset.options`.' },
  ),
);
export type Dataset = Static<typeof Dataset>;
