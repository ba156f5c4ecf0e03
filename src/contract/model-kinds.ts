/** The models a job saves, by the kind its artifacts and models are named with (plain values, no schema library). */

/** Every teacher name a job can have: teacher (the first), teacher1 … teacher7. */
export const TEACHER_KEYS = ['teacher', 'teacher1', 'teacher2', 'teacher3', 'teacher4', 'teacher5', 'teacher6', 'teacher7'] as const;
/** Its student, the teachers it trained and the baseline. */
export const MODEL_KINDS = ['student', ...TEACHER_KEYS, 'baseline'] as const;
