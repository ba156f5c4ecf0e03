/**
 * The wire contract: every object the API sends, as TypeBox schemas (which routes declare as their
 * responses and openapi.yaml's components are generated from: `npm run docs:openapi`) and as the types
 * the dashboard and the CLI import (`import type`). No server code and no dependency but typebox: the
 * plain-value files (statuses, phases, model-kinds, builtin-datasets) are safe to bundle into the browser.
 */
export * from './artifact.js';
export * from './builtin-datasets.js';
export * from './dataset.js';
export * from './deleted.js';
export * from './engine-spec.js';
export * from './enums.js';
export * from './event.js';
export * from './field-error.js';
export * from './job.js';
export * from './list.js';
export * from './model.js';
export * from './model-kinds.js';
export * from './phases.js';
export * from './export-report.js';
export * from './report.js';
export * from './statuses.js';
export * from './ws-ticket.js';
