import Type, { type Static } from 'typebox';
import { component } from './component.js';

/** One field at fault in a refused request (a problem's `errors`). */
export const FieldError = component(
  'FieldError',
  Type.Object(
    {
      field: Type.String({
        description:
          'JSON pointer to the offending field: into the body (`/student/training/epochs`, `/` for the body\nitself), or prefixed with where it is (`querystring:/limit`, `params:/id`).\n',
      }),
      message: Type.String(),
    },
    { additionalProperties: false },
  ),
);
export type FieldError = Static<typeof FieldError>;
