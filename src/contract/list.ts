import Type, { type TBoolean, type TSchema } from 'typebox';
import { Artifact } from './artifact.js';
import { component } from './component.js';
import { Dataset } from './dataset.js';
import { EventObject } from './event.js';
import { Job } from './job.js';
import { Model } from './model.js';

/** A page of a list: `{object: "list", data, has_more}`; `after=<last id>` asks for the next. */
export interface List<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export function ListOf<T extends TSchema, M extends TSchema = TBoolean>(item: T, hasMore?: M) {
  return Type.Object(
    { object: Type.Literal('list'), data: Type.Array(item), has_more: hasMore ?? (Type.Boolean() as TSchema as M) },
    { additionalProperties: false },
  );
}

export const JobList = component('JobList', ListOf(Job));
export type JobList = List<Job>;
export const EventList = component('EventList', ListOf(EventObject));
export type EventList = List<EventObject>;
export const DatasetList = component('DatasetList', ListOf(Dataset));
export type DatasetList = List<Dataset>;
export const ModelList = component('ModelList', ListOf(Model));
export type ModelList = List<Model>;
/** A job's artifacts come in one page. */
export const ArtifactList = component('ArtifactList', ListOf(Artifact, Type.Literal(false)));
export type ArtifactList = List<Artifact>;
