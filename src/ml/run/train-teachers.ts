/**
 * Stage 3, train the teachers: each teacher the job trains (given ones are skipped), in order. A teacher
 * a checkpoint has finished gets its stored weights back instead of training again.
 */
import { CheckpointError } from '../checkpoint.js';
import { teacherKey } from '../spec.js';
import { throwIfAborted } from '../train/fit.js';
import { readModelWeights, writeModelWeights } from '../train/state.js';
import type { PreparedJob } from './prepare.js';
import type { RunState } from './state.js';
import { trainPhase } from './train-phase.js';

export async function trainTeachers(run: RunState, job: PreparedJob): Promise<void> {
  const { ctx, clock } = run;
  const { teachers } = job;
  let restoredFrom = 0; // position in the checkpoint's teacher_weights
  for (const [k, t] of teachers.entries()) {
    if (!t.training) continue;
    const status = run.resume.teacherStatus(k);
    if (status === 'done') {
      const count = t.built.model.weights.length;
      const stored = run.resume.checkpoint!.teacher_weights?.slice(restoredFrom, restoredFrom + count);
      if (stored?.length !== count) throw new CheckpointError('the checkpoint lacks the weights of a trained teacher');
      restoredFrom += count;
      writeModelWeights(t.built.model, stored);
      if (ctx.onCheckpoint) run.finishedTeachers.push(...stored);
      continue;
    }
    if (clock.phase !== 'training_teacher') clock.enter('training_teacher');
    if (teachers.length > 1) run.log(`training teacher ${k} (${k + 1} of ${teachers.length})`);
    const share = job.teacherShares[k]!;
    await trainPhase(run, job, {
      phase: 'training_teacher',
      role: 'teacher',
      built: t.built,
      training: t.training,
      x: job.teacherX[k]!,
      status,
      stream: teacherKey(k),
      historyKey: teacherKey(k),
      progress: clock.progress.slice(share.offset, share.share),
      ...(teachers.length > 1 ? { teacherIndex: k } : {}),
    });
    if (ctx.onCheckpoint) run.finishedTeachers.push(...readModelWeights(t.built.model));
  }
  throwIfAborted(ctx.signal);
}
