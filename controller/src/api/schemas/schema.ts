import type { ReferenceObject, SchemaObject } from "@nestjs/swagger";

/**
 * Small builders for the OpenAPI (3.0) schemas of the API's answers. Objects list every property
 * and are closed by the tests (a field the schema lacks fails them); `open()` marks the few values
 * that are free-form on purpose (event bodies, command params and output, audit details).
 */
export type Schema = SchemaObject | ReferenceObject;

export const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });
export const str = (o: SchemaObject = {}): SchemaObject => ({ type: "string", ...o });
export const time = (o: SchemaObject = {}): SchemaObject => ({ type: "string", format: "date-time", ...o });
export const int = (o: SchemaObject = {}): SchemaObject => ({ type: "integer", ...o });
export const num = (o: SchemaObject = {}): SchemaObject => ({ type: "number", ...o });
export const bool = (o: SchemaObject = {}): SchemaObject => ({ type: "boolean", ...o });
export const oneOfStr = (values: readonly string[], o: SchemaObject = {}): SchemaObject => ({ type: "string", enum: [...values], ...o });
export const arr = (items: Schema, o: SchemaObject = {}): SchemaObject => ({ type: "array", items, ...o });
/** May be null (an enum then lists null too, as OpenAPI 3.0.3 asks). */
export const nullable = (s: SchemaObject): SchemaObject => ({ ...s, nullable: true, ...(s.enum ? { enum: [...(s.enum as unknown[]), null] } : {}) });
/** A JSON object whose keys are not fixed (event fields, params, details). */
export const open = (description?: string): SchemaObject => ({ type: "object", additionalProperties: true, ...(description ? { description } : {}) });
/** Any JSON value. */
export const anyJson = (description?: string): SchemaObject => ({ ...(description ? { description } : {}) });

export interface ObjectOptions<K extends string = string> {
  /** Properties that may be absent (all others are required). */
  optional?: readonly K[];
  description?: string;
}

export function obj(props: Record<string, Schema>, o: ObjectOptions = {}): SchemaObject {
  const optional = new Set(o.optional ?? []);
  const required = Object.keys(props).filter((k) => !optional.has(k));
  return { type: "object", ...(o.description ? { description: o.description } : {}), ...(required.length ? { required } : {}), properties: props };
}

/**
 * An object schema for the TypeScript type T: it must name exactly T's properties, so a field
 * added to a service's response type fails the build until its schema describes it.
 */
export function typed<T>() {
  return <P extends { [K in keyof T]-?: Schema }>(props: P & Record<Exclude<keyof P, keyof T>, never>, o: ObjectOptions<Extract<keyof T, string>> = {}): SchemaObject =>
    obj(props as Record<string, Schema>, o);
}

/** `{items: T[]}`, and with a cursor `{items, nextCursor}` (null on the last page). */
export const list = (item: Schema, cursor = false): SchemaObject =>
  obj({ items: arr(item), ...(cursor ? { nextCursor: nullable(str({ description: "pass as cursor to get the next page; null on the last page" })) } : {}) });
