import Type, { type Static } from 'typebox';
import { component } from './component.js';

/** DELETE /v1/datasets/{id} and /v1/models/{id}. (A job's answer, JobDeleted, says more.) */
export const Deleted = component(
  'Deleted',
  Type.Object({ id: Type.String(), object: Type.Enum(['dataset', 'model']), deleted: Type.Literal(true) }, { additionalProperties: false }),
);
export type Deleted = Static<typeof Deleted>;
