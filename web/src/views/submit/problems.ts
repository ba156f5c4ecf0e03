/**
 * A refused job's problems on the page: the server's summary on top, each `errors[]` entry next to the
 * input that owns its JSON pointer, and the ones no input owns (or all of them, for the JSON editor)
 * in a list.
 */
import type { ProblemError } from '../../api.js';
import { fill, h } from '../../dom.js';
import type { FieldError } from '../../types.js';
import type { FormFields } from './fields.js';

/** `fields`: the form's inputs, or undefined when the job was written as JSON. */
export function showProblems(err: ProblemError, summary: HTMLElement, list: HTMLElement, fields: FormFields | undefined): void {
  fill(summary, h('div', { class: 'note note-error', 'data-testid': 'submit-error' }, `The server refused this job: ${err.detail}`));
  const unplaced: FieldError[] = [];
  for (const e of helpfulErrors(err.errors)) {
    const owner = fields?.ownerOf(e.field);
    if (!owner) {
      unplaced.push(e);
      continue;
    }
    owner.message.append(h('div', {}, e.message));
    owner.input.setAttribute('aria-invalid', 'true');
  }
  for (const e of unplaced) list.append(h('li', { class: 'field-error' }, h('code', {}, e.field || '/'), ' ', e.message));
}

/**
 * A teacher is `{model, training}` or `{model_id}`: a mistake inside one also draws complaints from
 * the other branch ("must have required property model_id", "must not have additional properties"),
 * at the object or a missing child of it. The error deeper in the same object is the one that helps.
 */
function helpfulErrors(errors: FieldError[]): FieldError[] {
  const parent = (pointer: string) => pointer.slice(0, pointer.lastIndexOf('/'));
  const explainedBy = (e: FieldError, d: FieldError) =>
    d.field.startsWith(`${e.field}/`) ||
    (/required propert/.test(e.message) && d !== e && d.field.startsWith(`${parent(e.field)}/`) && d.field.split('/').length > e.field.split('/').length);
  return errors.filter((e) => !errors.some((d) => explainedBy(e, d)));
}
