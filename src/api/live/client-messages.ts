import { Ajv, type ErrorObject } from 'ajv';
import Type, { type Static, type TSchema } from 'typebox';
import type { RawData } from 'ws';

/** Sequence numbers are Postgres integers: the same bound as the REST `after`. */
export const MAX_SEQ = 2_147_483_647;

/** `{"type":"subscribe","job_id":"job_…","after":0}`: follow a job's events with `seq > after`. */
export const SubscribeMessage = Type.Object(
  {
    type: Type.Literal('subscribe'),
    job_id: Type.String({ minLength: 1, maxLength: 64 }),
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SEQ })),
  },
  { additionalProperties: false },
);

/** `{"type":"unsubscribe","job_id":"job_…"}`: stop following a job. */
export const UnsubscribeMessage = Type.Object(
  {
    type: Type.Literal('unsubscribe'),
    job_id: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);

export type ClientMessage = Static<typeof SubscribeMessage> | Static<typeof UnsubscribeMessage>;

/** A refusal, as the `error` reply carries it: `field` is a JSON pointer into the message. */
export interface MessageRefusal {
  code: 'invalid_json' | 'invalid_message';
  message: string;
  field?: string;
  /** Set when the message named a job with a well-formed `job_id`, so the client can tell which one. */
  job_id?: string;
}

// The same options as the HTTP routes' JSON bodies (app.ts): nothing is coerced; `1` is no string.
const ajv = new Ajv({ coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false });
const SCHEMAS = { subscribe: SubscribeMessage, unsubscribe: UnsubscribeMessage } as const;
const TYPES = Object.keys(SCHEMAS) as Array<keyof typeof SCHEMAS>;
const validators = Object.fromEntries(TYPES.map((type) => [type, ajv.compile(SCHEMAS[type])]));

/**
 * Parses and validates one client frame of `/v1/events` before anything uses it: every field is
 * checked against its schema (a JSON object, a known `type`, that type's fields and no other, each in
 * range), and a refusal names the field at fault.
 */
export function parseClientMessage(data: RawData, isBinary: boolean): { message: ClientMessage } | { refusal: MessageRefusal } {
  if (isBinary) return { refusal: { code: 'invalid_message', message: 'messages are JSON text frames; a binary frame was sent' } };
  let value: unknown;
  try {
    value = JSON.parse(textOf(data));
  } catch {
    return { refusal: { code: 'invalid_json', message: 'messages are JSON objects; this one is not valid JSON' } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      refusal: { code: 'invalid_message', field: '', message: `a message is a JSON object with a "type" (${TYPES.join(' or ')}), not ${kindOf(value)}` },
    };
  }
  const type = (value as { type?: unknown }).type;
  if (!Object.hasOwn(value, 'type') || !TYPES.includes(type as keyof typeof SCHEMAS)) {
    const got = Object.hasOwn(value, 'type') ? `, not ${describe(type)}` : ' (it is missing)';
    return { refusal: { code: 'invalid_message', field: '/type', message: `/type: must be ${TYPES.map((t) => `"${t}"`).join(' or ')}${got}` } };
  }
  const validate = validators[type as keyof typeof SCHEMAS]!;
  const jobId = (value as { job_id?: unknown }).job_id;
  const named = typeof jobId === 'string' && jobId.length > 0 && jobId.length <= 64 ? { job_id: jobId } : {};
  if (!validate(value)) {
    const { field, message } = explain(type as string, validate.errors?.[0], SCHEMAS[type as keyof typeof SCHEMAS]);
    return { refusal: { code: 'invalid_message', field, message: `${field}: ${message}`, ...named } };
  }
  return { message: value as ClientMessage };
}

function explain(type: string, error: ErrorObject | undefined, schema: TSchema): { field: string; message: string } {
  if (!error) return { field: '', message: 'is invalid' };
  const fields = Object.keys((schema as { properties: Record<string, unknown> }).properties);
  const params = error.params as { missingProperty?: string; additionalProperty?: string; limit?: number };
  if (error.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
    return { field: `/${escapePointer(params.additionalProperty)}`, message: `is not a field of ${type} messages (their fields: ${fields.join(', ')})` };
  }
  if (error.keyword === 'required' && params.missingProperty !== undefined) {
    return { field: `/${escapePointer(params.missingProperty)}`, message: `is required in ${type} messages` };
  }
  const field = error.instancePath;
  if (field === '/after') return { field, message: `must be an integer from 0 to ${MAX_SEQ} (a seq this job has reached)` };
  if (field === '/job_id') return { field, message: 'must be a job id: a string of 1 to 64 characters' };
  return { field, message: error.message ?? 'is invalid' };
}

const escapePointer = (name: string) => name.slice(0, 64).replace(/~/g, '~0').replace(/\//g, '~1');

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
  return kindOf(value);
}
