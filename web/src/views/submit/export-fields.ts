/**
 * What a job exports besides its tfjs models: ONNX files and quantized students (`export` of the job
 * body). The same three choices serve the submit form and a finished job's "export more".
 */
import { h } from '../../dom.js';
import type { FormFields } from './fields.js';

const CHOICES = [
  ['export-onnx', 'ONNX', ['/export/formats', '/export', '/formats'], 'model.onnx of every model, checked in ONNX Runtime.'],
  ['export-float16', 'float16 student', ['/export/quantize', '/quantize'], 'Half the size; stock tf.loadLayersModel reads it.'],
  ['export-uint8', 'uint8 student', ['/export/quantize', '/quantize'], 'A quarter of the size.'],
] as const;

export function exportFieldset(fields: FormFields, legend = 'Export'): HTMLElement {
  const set = h(
    'fieldset',
    {},
    h('legend', {}, legend),
    ...CHOICES.map(([id, label, owns, hint]) => fields.field(id, label, h('input', { type: 'checkbox' }), [...owns], hint)),
  );
  for (const [id] of CHOICES) (fields.input(id).parentElement as HTMLElement).classList.add('field-check');
  return set;
}

/** `{ formats, quantize }` as checked; nothing (the server's tfjs-only default) when none is. */
export function exportSpec(fields: FormFields): { formats: string[]; quantize: string[] } | undefined {
  const checked = (id: string) => (fields.input(id) as HTMLInputElement).checked;
  const quantize = ['float16', 'uint8'].filter((q) => checked(`export-${q}`));
  if (!checked('export-onnx') && quantize.length === 0) return undefined;
  return { formats: checked('export-onnx') ? ['tfjs', 'onnx'] : ['tfjs'], quantize };
}

export const exportBody = (fields: FormFields) => {
  const spec = exportSpec(fields);
  return spec ? { export: spec } : {};
};
