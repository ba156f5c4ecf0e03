/**
 * The submit form's teacher choice: beside the presets trained in the job, the models uploaded to the
 * server (tfjs layers models and ONNX models exported from PyTorch or TensorFlow), used by id.
 */
import { api } from '../api.js';
import { h } from '../dom.js';
import type { List, Model } from '../types.js';

/** What the choice shows of a model (an older server may send no `format`: tfjs). */
type UploadedModel = Pick<Model, 'id' | 'name' | 'input_shape' | 'output_shape' | 'parameters'> & Partial<Pick<Model, 'format'>>;

/** A teacher choice that names an uploaded model (its value is the model id). */
export const isModelChoice = (value: string) => value.startsWith('mdl_');

/** Appends the uploaded models to the teacher select; a server without them adds nothing. */
export function addUploadedTeachers(select: HTMLSelectElement, stopped: () => boolean): void {
  api<List<UploadedModel>>('GET', '/v1/models?source=uploaded&limit=100').then(
    (list) => {
      if (stopped() || list.data.length === 0) return;
      const options = list.data.map((m) => {
        const kind = m.format === 'onnx' ? 'ONNX' : 'tfjs';
        const label = `${m.name ?? m.id} — ${kind}, [${m.input_shape.join('×')}] → ${m.output_shape[0]} classes, ${m.parameters.toLocaleString('en-US')} params`;
        return h('option', { value: m.id, 'data-format': m.format ?? 'tfjs' }, label);
      });
      select.append(h('optgroup', { label: 'Uploaded models' }, ...options));
    },
    () => {},
  );
}
