/**
 * How a student layer's output is projected onto its teacher layer's shape (hint distillation): a
 * plan of shapes only, kept apart from projection.ts so spec checks run without tfjs.
 */

/** More would be a model of its own: 4 Mi parameters (16 MiB of float32). */
export const MAX_PROJECTION_PARAMETERS = 4 * 1024 * 1024;

export type ProjectionPlan =
  | { kind: 'conv1x1'; inChannels: number; outChannels: number; from: number[]; to: number[] }
  | { kind: 'dense'; inUnits: number; outUnits: number; from: number[]; to: number[] };

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * How a student output of shape `from` is projected onto a teacher output of shape `to` (sample
 * shapes): feature maps of equal height and width by a 1×1 convolution, anything else of rank 1 or 3
 * by a dense layer on the flattened output. A string says why it cannot be.
 */
export function planProjection(from: readonly number[], to: readonly number[]): ProjectionPlan | string {
  const ok = (s: readonly number[]) => s.length === 1 || s.length === 3;
  if (!ok(from) || !ok(to)) return `outputs of rank ${from.length} and ${to.length} cannot be projected (vectors [n] and feature maps [h,w,c] can)`;
  let plan: ProjectionPlan;
  if (from.length === 3 && to.length === 3) {
    if (from[0] !== to[0] || from[1] !== to[1]) {
      return `feature maps [${from}] and [${to}] differ in height or width: a 1×1 convolution cannot project one onto the other (pair layers of equal spatial size)`;
    }
    plan = { kind: 'conv1x1', inChannels: from[2]!, outChannels: to[2]!, from: [...from], to: [...to] };
  } else {
    plan = { kind: 'dense', inUnits: size(from), outUnits: size(to), from: [...from], to: [...to] };
  }
  const parameters = projectionParameters(plan);
  if (parameters > MAX_PROJECTION_PARAMETERS) {
    return `projecting [${from}] onto [${to}] would take ${parameters} parameters (at most ${MAX_PROJECTION_PARAMETERS}): pair smaller layers`;
  }
  return plan;
}

export function projectionParameters(plan: ProjectionPlan): number {
  return plan.kind === 'conv1x1' ? (plan.inChannels + 1) * plan.outChannels : (plan.inUnits + 1) * plan.outUnits;
}
