/**
 * The form half of the submit page: dataset, teacher and student presets, epochs, learning rates, T, α,
 * baseline and exports, and the job body they make (only what the user filled in: the server's documented
 * defaults apply to the rest).
 */
import { api } from '../../api.js';
import { h } from '../../dom.js';
import { BUILTIN, type List } from '../../types.js';
import { addUploadedTeachers, isModelChoice } from '../teacher-choices.js';
import { exportBody, exportFieldset } from './export-fields.js';
import { FormFields, number, select, text } from './fields.js';

const PRESETS: Array<[string, string]> = [
  ['hinton-teacher', 'hinton-teacher (2×1200, dropout)'],
  ['hinton-student', 'hinton-student (2×800)'],
  ['cnn-teacher', 'cnn-teacher (convnet)'],
  ['cnn-student', 'cnn-student (small convnet)'],
  ['mlp-tiny', 'mlp-tiny (1×32)'],
  ['linear', 'linear (softmax regression)'],
];
const BUILTIN_DATASETS: Array<[string, string]> = [
  [BUILTIN.synthetic, `${BUILTIN.synthetic} (generated)`],
  [BUILTIN.mnist, `${BUILTIN.mnist} (10,000 digits)`],
];

export interface JobForm {
  form: HTMLFormElement;
  fields: FormFields;
  /** The job body as POST /v1/jobs takes it. */
  body(): Record<string, unknown>;
  /** Adds the tenant's ready uploaded datasets and uploaded models to the choices; the returned function stops it. */
  loadDatasets(): () => void;
}

export function jobForm(): JobForm {
  const fields = new FormFields();
  const baseline = h('input', { type: 'checkbox', checked: true });
  const datasetSelect = select(BUILTIN_DATASETS, BUILTIN.synthetic);
  const form = h(
    'form',
    { class: 'submit-form', novalidate: true, 'data-testid': 'submit-form' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Job and data'),
      fields.field('name', 'Name', text('', 'my-distillation'), ['/name']),
      fields.field('dataset', 'Dataset', datasetSelect, ['/dataset/source', '/dataset']),
      fields.field('samples', 'Training samples', number('', 'all'), ['/dataset/limit'], 'Use at most this many (a transfer set). Empty: all.'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Teacher'),
      fields.field('teacher-preset', 'Model', select(PRESETS, 'hinton-teacher'), ['/teacher/model', '/teacher']),
      fields.field('teacher-epochs', 'Epochs', number('3'), ['/teacher/training']),
      fields.field('teacher-lr', 'Learning rate', number('', '0.001'), ['/teacher/training/learning_rate']),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Student'),
      fields.field('student-preset', 'Model', select(PRESETS, 'mlp-tiny'), ['/student/model', '/student']),
      fields.field(
        'student-shape',
        'Input shape',
        text('', 'as the dataset'),
        ['/student/model/input_shape'],
        'e.g. 16,16,1: the student reads smaller images.',
      ),
      fields.field('student-epochs', 'Epochs', number('3'), ['/student/training']),
      fields.field('student-lr', 'Learning rate', number('', '0.001'), ['/student/training/learning_rate']),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Distillation'),
      fields.field('temperature', 'Temperature T', number('4'), ['/distillation/temperature'], "Softens the teacher's targets."),
      fields.field('alpha', 'α (soft-target weight)', number('0.9'), ['/distillation/alpha'], 'Between 0 and 1; the hard labels get 1−α.'),
      fields.field(
        'baseline',
        'Baseline',
        baseline,
        ['/distillation/baseline', '/distillation', '/'],
        'Also train the student without the teacher, to compare.',
      ),
    ),
  );
  (fields.input('baseline').parentElement as HTMLElement).classList.add('field-check');
  form.append(exportFieldset(fields));

  const training = (role: string) => {
    const [epochs, lr] = [fields.numeric(`${role}-epochs`), fields.numeric(`${role}-lr`)];
    return { ...(epochs !== undefined ? { epochs } : {}), ...(lr !== undefined ? { learning_rate: lr } : {}) };
  };
  function body(): Record<string, unknown> {
    const value = (id: string) => fields.value(id);
    const samples = fields.numeric('samples');
    const shape = value('student-shape');
    return {
      ...(value('name') ? { name: value('name') } : {}),
      dataset: { source: value('dataset'), ...(samples !== undefined ? { limit: { train: samples } } : {}) },
      teacher: isModelChoice(value('teacher-preset'))
        ? { model_id: value('teacher-preset') }
        : { model: { preset: value('teacher-preset') }, training: training('teacher') },
      student: {
        model: {
          preset: value('student-preset'),
          ...(shape ? { input_shape: shape.split(/[\s,×x]+/).map((d) => (Number.isInteger(Number(d)) ? Number(d) : d)) } : {}),
        },
        training: training('student'),
      },
      distillation: { temperature: fields.numeric('temperature'), alpha: fields.numeric('alpha'), baseline: baseline.checked },
      ...exportBody(fields),
    };
  }

  function loadDatasets(): () => void {
    let stopped = false;
    // The list starts with the built-in ones, already in the select; only ready uploads can be trained on.
    api<List<{ id: string; name?: string | null; status?: string }>>('GET', '/v1/datasets?limit=100').then(
      (list) => {
        if (stopped) return;
        const known = new Set(BUILTIN_DATASETS.map(([id]) => id));
        for (const d of list.data.filter((d) => !known.has(d.id) && d.status === 'ready')) {
          datasetSelect.append(h('option', { value: d.id }, d.name ? `${d.name} (${d.id})` : d.id));
        }
      },
      () => {},
    );
    addUploadedTeachers(fields.input('teacher-preset') as HTMLSelectElement, () => stopped);
    return () => {
      stopped = true;
    };
  }

  return { form, fields, body, loadDatasets };
}
