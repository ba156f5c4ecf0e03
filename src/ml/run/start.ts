/**
 * Before any stage: the spec checked and resolved, the backend up, and the resume plan (stage 1) made
 * from the checkpoint, if the job has one. Nothing here allocates tensors.
 */
import { initBackend } from '../backend/index.js';
import { SpecError } from '../errors.js';
import { TensorOwner } from '../job-setup.js';
import { checkSpec } from '../spec-check.js';
import { withDefaults, type EngineSpec } from '../spec.js';
import type { RunContext } from './context.js';
import { specKeyOf } from './keys.js';
import { planResume } from './resume-plan.js';
import { PhaseClock, type RunState } from './state.js';

export async function startRun(spec: EngineSpec, ctx: RunContext): Promise<RunState> {
  const problems = checkSpec(spec);
  if (problems.length > 0) throw new SpecError(problems);
  const resolved = withDefaults(spec);
  const backend = await initBackend(ctx.backend ?? 'auto');
  const specKey = specKeyOf(resolved);
  const resume = planResume(ctx.resumeFrom, specKey);
  return {
    ctx,
    spec,
    resolved,
    specKey,
    resume,
    backend,
    owner: new TensorOwner(),
    clock: new PhaseClock(ctx.onEvent),
    history: { ...resume.checkpoint?.history },
    distillHistory: [...(resume.checkpoint?.distillation_history ?? [])],
    finishedTeachers: [],
    studentWeights: null,
    softTargetKey: null,
    log: (message) => ctx.onEvent({ type: 'log', level: 'info', message }),
  };
}
