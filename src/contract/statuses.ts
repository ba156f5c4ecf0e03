/**
 * A job's statuses, the one list (plain values, no schema library: the dashboard bundles this file).
 * `queued` → `running` → `succeeded` | `failed`; `cancelled` from `queued` at once or from `running`
 * through `cancelling`.
 */
export const JOB_STATUSES = ['queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatusName = (typeof JOB_STATUSES)[number];

/** A job in one of these has ended: its last event is the `status` event that says so. */
export const TERMINAL_STATUSES = ['succeeded', 'failed', 'cancelled'] as const satisfies readonly JobStatusName[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Queued or running: what quotas count and what holds its datasets and models in use. */
export const ACTIVE_STATUSES = ['queued', 'running', 'cancelling'] as const satisfies readonly JobStatusName[];

export function isTerminal(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}
