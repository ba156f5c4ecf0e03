/**
 * The datasets (ds_…) and models (mdl_…) a job names. At submission they must exist for the job's
 * tenant, be ready, and fit each other (teacher outputs = dataset classes, dataset samples resizable
 * to the teacher's input); while the job is queued or running they cannot be deleted; and the worker
 * turns them into storage keys for the training child, which has no database.
 */
import type { DbClient } from '../db/client.js';
import { isId } from '../ids.js';
import {
  builtinFacts,
  type DatasetFacts,
  EngineSpecSchema,
  type EngineSpec,
  type GivenTeacherFacts,
  onnxTeacherProblems,
  planAdapt,
  schemaProblems,
} from '../ml/tfjs-free.js';
import type { UploadedDataset } from './job-size.js';
import { BUILTIN_DATASET_IDS, isBuiltinDataset } from '../contract/builtin-datasets.js';
import { ACTIVE_STATUSES } from './status.js';

export interface References {
  dataset?: string;
  /** Teachers given by id, with the JSON pointer of each. */
  models: Array<{ id: string; at: string }>;
}

/** The ids a job spec names; tolerant of specs that fail the schema (they name nothing usable). */
export function referencesOf(spec: unknown): References {
  const s = (spec ?? {}) as { dataset?: { source?: unknown }; teacher?: unknown; teachers?: unknown };
  const source = s.dataset?.source;
  const teachers: Array<[unknown, string]> = Array.isArray(s.teachers)
    ? s.teachers.map((t, k) => [t, `/teachers/${k}/model_id`])
    : [[s.teacher, '/teacher/model_id']];
  const models = teachers.flatMap(([t, at]) => {
    const id = (t as { model_id?: unknown } | undefined)?.model_id;
    return typeof id === 'string' ? [{ id, at }] : [];
  });
  return { ...(typeof source === 'string' && !isBuiltinDataset(source) ? { dataset: source } : {}), models };
}

export interface ReferenceCheck {
  /** The uploaded dataset: its classes and sample shape for the engine's checks, its size for the job-size limits. */
  dataset?: UploadedDataset;
  /** The teachers given by id, by id: their sizes for the memory estimate. */
  givenTeachers: Record<string, GivenTeacherFacts>;
  problems: Array<{ field: string; message: string }>;
}

/**
 * Submission-time checks of what a job names. A spec that fails the schema is left to the engine's
 * checks, which name its fields.
 */
export async function checkReferences(db: DbClient, tenantId: string, spec: unknown): Promise<ReferenceCheck> {
  if (schemaProblems(EngineSpecSchema, spec).length > 0) return { problems: [], givenTeachers: {} };
  const refs = referencesOf(spec);
  const problems: ReferenceCheck['problems'] = [];
  let facts: DatasetFacts = builtinFacts((spec as EngineSpec).dataset);
  let datasetName = (spec as EngineSpec).dataset.source;
  let uploaded: UploadedDataset | undefined;
  const givenTeachers: Record<string, GivenTeacherFacts> = {};
  if (refs.dataset !== undefined) {
    const id = refs.dataset;
    const row = isId('ds', id)
      ? await db.dataset.findFirst({ where: { id, tenantId }, select: { status: true, numClasses: true, inputShape: true, numTrain: true, numTest: true } })
      : null;
    if (!isId('ds', id)) problems.push({ field: '/dataset/source', message: `"${id}" is neither ${BUILTIN_DATASET_IDS.join(', ')} nor a dataset id (ds_…)` });
    else if (!row) problems.push({ field: '/dataset/source', message: `dataset ${id} does not exist` });
    else if (row.status !== 'ready') problems.push({ field: '/dataset/source', message: `dataset ${id} is ${row.status}, not ready` });
    else
      uploaded = {
        facts: { inputShape: row.inputShape, ...(row.numClasses !== null ? { classes: row.numClasses } : {}) },
        trainSamples: row.numTrain ?? 0,
        testSamples: row.numTest ?? 0,
      };
    facts = uploaded?.facts ?? {};
    datasetName = `dataset ${id}`;
  }
  for (const { id, at } of refs.models) {
    if (!isId('mdl', id)) {
      problems.push({ field: at, message: `"${id}" is not a model id (mdl_…)` });
      continue;
    }
    const model = await db.model.findFirst({ where: { id, tenantId }, select: { inputShape: true, outputShape: true, parameters: true, format: true } });
    if (!model) {
      problems.push({ field: at, message: `model ${id} does not exist` });
      continue;
    }
    const { inputShape, outputShape } = model;
    if (model.format === 'onnx')
      problems.push(
        ...onnxTeacherProblems((spec as EngineSpec).distillation, Number(/^\/teachers\/(\d+)/.exec(at)?.[1] ?? 0), id).map((p) => ({
          field: p.path,
          message: p.message,
        })),
      );
    givenTeachers[id] = { parameters: model.parameters, inputShape, outputShape };
    if (facts.classes !== undefined && (outputShape.length !== 1 || outputShape[0] !== facts.classes)) {
      problems.push({
        field: at,
        message: `teacher model ${id} outputs shape [${outputShape}] but ${datasetName} has ${facts.classes} classes (output shape [${facts.classes}])`,
      });
    }
    if (facts.inputShape && !planAdapt(facts.inputShape, inputShape)) {
      problems.push({
        field: at,
        message: `teacher model ${id} reads inputs of shape [${inputShape}], which samples of ${datasetName} (shape [${facts.inputShape}]) cannot be resized to`,
      });
    }
  }
  return { ...(uploaded ? { dataset: uploaded } : {}), givenTeachers, problems };
}

/** Queued or running jobs of the tenant that name this dataset or model (a delete must wait for them). */
export async function activeJobsUsing(db: DbClient, tenantId: string, id: string): Promise<string[]> {
  const jobs = await db.job.findMany({ where: { tenantId, status: { in: [...ACTIVE_STATUSES] } }, select: { id: true, spec: true }, orderBy: { id: 'asc' } });
  return jobs
    .filter((job) => {
      const refs = referencesOf(job.spec);
      return refs.dataset === id || refs.models.some((m) => m.id === id);
    })
    .map((job) => job.id);
}

/** Where the training child finds what a job names: storage keys by id (missing ones are left out). */
export interface StoredResources {
  datasets: Record<string, string>;
  models: Record<string, string>;
}

export async function storedResources(db: DbClient, tenantId: string, spec: unknown): Promise<StoredResources> {
  const refs = referencesOf(spec);
  const resources: StoredResources = { datasets: {}, models: {} };
  if (refs.dataset !== undefined) {
    const row = await db.dataset.findFirst({ where: { id: refs.dataset, tenantId, status: 'ready' }, select: { storageKey: true } });
    if (row?.storageKey) resources.datasets[refs.dataset] = row.storageKey;
  }
  for (const { id } of refs.models) {
    const row = await db.model.findFirst({ where: { id, tenantId }, select: { storageKey: true } });
    if (row) resources.models[id] = row.storageKey;
  }
  return resources;
}
