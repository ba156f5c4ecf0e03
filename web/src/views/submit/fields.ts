/**
 * The submit form's inputs, each registered with the JSON pointers it answers for, so a problem the
 * server names by pointer is shown next to the input that owns it (the longest prefix).
 */
import { fill, h } from '../../dom.js';

export interface Field {
  input: HTMLInputElement | HTMLSelectElement;
  /** JSON pointers this input answers for. */
  owns: string[];
  message: HTMLElement;
}

export const text = (value = '', placeholder = '') => h('input', { type: 'text', value, placeholder, autocomplete: 'off', spellcheck: 'false' });
export const number = (value: string, placeholder = '') => h('input', { type: 'text', inputmode: 'decimal', value, placeholder, autocomplete: 'off' });
export const select = (options: Array<[string, string]>, selected: string) =>
  h('select', {}, ...options.map(([value, label]) => h('option', { value, selected: value === selected }, label)));

export class FormFields {
  private readonly fields = new Map<string, Field>();

  /** A labelled input with its hint and the place its problems are shown. */
  field(id: string, label: string, input: HTMLInputElement | HTMLSelectElement, owns: string[], hint = ''): HTMLElement {
    input.id = `f-${id}`;
    input.name = id;
    const message = h('div', { class: 'field-error', 'data-error-for': id, role: 'alert' });
    this.fields.set(id, { input, owns, message });
    return h(
      'div',
      { class: 'field', 'data-field': id },
      h('label', { for: input.id }, label),
      input,
      hint ? h('div', { class: 'hint' }, hint) : null,
      message,
    );
  }

  input(id: string): HTMLInputElement | HTMLSelectElement {
    return this.fields.get(id)!.input;
  }

  value(id: string): string {
    return this.input(id).value.trim();
  }

  /** A typed number, or the text as typed when it is not one: the server then says what is wrong. */
  numeric(id: string): number | string | undefined {
    const v = this.value(id);
    return v === '' ? undefined : Number.isFinite(Number(v)) ? Number(v) : v;
  }

  /** The input owning the longest prefix of the pointer (segment-wise), if any. */
  ownerOf(pointer: string): Field | undefined {
    let best: Field | undefined;
    let bestLength = -1;
    for (const f of this.fields.values()) {
      for (const own of f.owns) {
        const matches = own === '/' ? pointer === '/' || pointer === '' : pointer === own || pointer.startsWith(`${own}/`);
        if (matches && own.length > bestLength) [best, bestLength] = [f, own.length];
      }
    }
    return best;
  }

  clearErrors(): void {
    for (const f of this.fields.values()) {
      fill(f.message);
      f.input.removeAttribute('aria-invalid');
    }
  }
}
