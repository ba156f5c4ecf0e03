import Type, { type TNull, type TSchema, type TUnion } from 'typebox';

export const COMPONENT_REF = '#/components/schemas/';

/**
 * Names a schema as openapi.yaml's `#/components/schemas/<name>`: scripts/openapi-components.ts writes it
 * there and writes every use of it as a `$ref`. The mark is a `$comment`, which validators and
 * serializers ignore, so the same object still serves as an inline schema (TypeBox embeds, not copies).
 */
export function component<T extends TSchema>(name: string, schema: T): T {
  (schema as Record<string, unknown>).$comment = `${COMPONENT_REF}${name}`;
  return schema;
}

/** The name `component` gave a schema, if any. */
export function componentName(schema: unknown): string | undefined {
  const comment = (schema as { $comment?: unknown } | null)?.$comment;
  return typeof comment === 'string' && comment.startsWith(COMPONENT_REF) ? comment.slice(COMPONENT_REF.length) : undefined;
}

/** The same schema with a description of this use (openapi.yaml: a `$ref` with its own description). */
export function described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

/** `T | null` (openapi.yaml writes `type: [T, 'null']` where T is a plain type). */
export function nullable<T extends TSchema>(schema: T, options: { description?: string } = {}): TUnion<[T, TNull]> {
  return Type.Union([schema, Type.Null()], options);
}
