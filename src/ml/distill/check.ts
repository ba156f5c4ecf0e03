/**
 * What a distillation spec can get wrong beyond its schema: methods without their settings, teacher
 * weights that do not match the teachers, and layer pairs naming layers that do not exist or whose
 * outputs cannot be projected or compared. Used twice: by checkSpec on the layer lists (a 400 before
 * anything runs) and by runJob on the built models (teachers given by model_id, uploaded datasets).
 */
import type { SpecProblem } from '../errors.js';
import type { DistillationSpec } from '../spec-distillation.js';
import { planProjection } from './projection-plan.js';

/** Layer name → per-sample output shape (undefined where not known before the data is loaded). */
export type LayerTable = Map<string, number[] | undefined>;

export interface ModelsToCheck {
  student: LayerTable | undefined;
  /** One per teacher; undefined for a teacher whose layers are not known yet (a model_id). */
  teachers: Array<LayerTable | undefined>;
}

type Checked = Pick<DistillationSpec, 'method' | 'hint' | 'attention' | 'teacher_weights'>;

export function checkDistillation(d: Checked | undefined, models: ModelsToCheck): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const methods = d?.method ?? ['logits'];
  for (const kind of ['hint', 'attention'] as const) {
    if (methods.includes(kind) && !d?.[kind])
      problems.push({ path: `/distillation/${kind}`, message: `method includes '${kind}': give distillation.${kind}.pairs` });
    if (d?.[kind] && !methods.includes(kind))
      problems.push({ path: '/distillation/method', message: `distillation.${kind} is given but method does not include '${kind}'` });
  }
  const weights = d?.teacher_weights;
  if (weights) {
    if (weights.length !== models.teachers.length) {
      problems.push({
        path: '/distillation/teacher_weights',
        message: `gives ${weights.length} weights for ${models.teachers.length} teacher${models.teachers.length === 1 ? '' : 's'}`,
      });
    } else if (!weights.some((w) => w > 0)) {
      problems.push({ path: '/distillation/teacher_weights', message: 'at least one teacher weight must be above 0' });
    }
  }
  for (const kind of ['hint', 'attention'] as const) {
    d?.[kind]?.pairs.forEach((pair, i) => problems.push(...checkPair(kind, i, pair, models)));
  }
  return problems;
}

function checkPair(
  kind: 'hint' | 'attention',
  i: number,
  pair: { student: string; teacher: string; teacher_index?: number },
  models: ModelsToCheck,
): SpecProblem[] {
  const at = `/distillation/${kind}/pairs/${i}`;
  const k = pair.teacher_index ?? 0;
  const count = models.teachers.length;
  if (k >= count)
    return [{ path: `${at}/teacher_index`, message: `teacher ${k} does not exist: the job has ${count} teacher${count === 1 ? '' : 's'} (0-based)` }];
  const teacherName = count === 1 ? 'the teacher' : `teacher ${k}`;
  const problems: SpecProblem[] = [];
  const lookup = (table: LayerTable | undefined, name: string, who: string, side: 'student' | 'teacher') => {
    if (!table) return undefined;
    if (table.has(name)) return table.get(name);
    problems.push({ path: `${at}/${side}`, message: `${who} has no layer named '${name}' (its layers: ${[...table.keys()].join(', ')})` });
    return undefined;
  };
  const s = lookup(models.student, pair.student, 'the student', 'student');
  const t = lookup(models.teachers[k], pair.teacher, teacherName, 'teacher');
  if (problems.length > 0) return problems;
  if (kind === 'attention') {
    if (s && s.length !== 3)
      problems.push({ path: `${at}/student`, message: `attention transfer needs a feature map [h,w,c]: student layer '${pair.student}' outputs [${s}]` });
    if (t && t.length !== 3)
      problems.push({
        path: `${at}/teacher`,
        message: `attention transfer needs a feature map [h,w,c]: ${teacherName}'s layer '${pair.teacher}' outputs [${t}]`,
      });
    return problems;
  }
  if (s && t) {
    const plan = planProjection(s, t);
    if (typeof plan === 'string')
      problems.push({
        path: `${at}/student`,
        message: `student layer '${pair.student}' cannot be projected onto ${teacherName}'s layer '${pair.teacher}': ${plan}`,
      });
  }
  return problems;
}
