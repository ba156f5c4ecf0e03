/**
 * The API's objects as the dashboard reads them: the wire contract's types (src/contract, from which
 * openapi.yaml's schemas are generated). Types only, plus the contract's plain-value lists: no schema
 * library and no server code reach the browser bundle.
 */
import type { EpochEventData, JobProgress, MetricsEventData } from '../../src/contract/index.js';
import { MODEL_ROLES, type ModelRoleName } from '../../src/contract/phases.js';
import { TERMINAL_STATUSES } from '../../src/contract/statuses.js';

export type {
  Artifact,
  Dataset,
  EventObject as JobEvent,
  ExportReport,
  FieldError,
  Job,
  JobStatus,
  LatencyStats,
  List,
  Model,
  ModelReport,
  Report,
} from '../../src/contract/index.js';
export { BUILTIN } from '../../src/contract/builtin-datasets.js';

export const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

export type ModelRole = ModelRoleName;
export const ROLES: readonly ModelRole[] = MODEL_ROLES;

export type Progress = JobProgress;
/** data of a `metrics` event: the latest training batch. */
export type MetricsData = MetricsEventData;
/** data of an `epoch` event. */
export type EpochData = EpochEventData;
