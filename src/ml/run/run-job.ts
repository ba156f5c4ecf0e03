/**
 * One distillation job, start to finish, as seven stages over one explicit state (./state.ts):
 *
 *   1. resume plan     ./start.ts, ./resume-plan.ts  spec checked, backend up, what a checkpoint skips
 *   2. prepare         ./prepare.ts                  data, tensors, models, distillation plan, progress
 *   3. train teachers  ./train-teachers.ts           each teacher the job trains
 *   4. distil          ./distil.ts                   soft targets, objective, the student
 *   5. baseline        ./baseline.ts                 the student without distillation, if asked for
 *   6. evaluate        ./evaluate.ts                 test accuracy, latency, the teachers' ensemble
 *   7. finish          ./finish.ts                   models serialized, the report, the outcome
 *
 * Progress goes out as events; each epoch ends in a checkpoint the caller persists (./train-phase.ts);
 * an aborted signal stops the job between two batches. Nothing here knows about HTTP, queues or
 * databases.
 */
import type { EngineSpec } from '../spec.js';
import { trainBaseline } from './baseline.js';
import type { JobOutcome, RunContext } from './context.js';
import { distil } from './distil.js';
import { evaluate } from './evaluate.js';
import { finish } from './finish.js';
import { prepare } from './prepare.js';
import { startRun } from './start.js';
import { trainTeachers } from './train-teachers.js';

export type { JobOutcome, RunContext } from './context.js';

export async function runJob(spec: EngineSpec, ctx: RunContext): Promise<JobOutcome> {
  const run = await startRun(spec, ctx);
  try {
    const job = await prepare(run);
    await trainTeachers(run, job);
    await distil(run, job);
    const baseline = await trainBaseline(run, job);
    const evaluation = await evaluate(run, job, baseline);
    return await finish(run, job, evaluation);
  } finally {
    run.owner.disposeAll();
  }
}
