import { COMMAND_TYPES, type CommandType, commandSpec } from "./contract";
import { fieldJsonSchema } from "./fields";

/**
 * JSON schema (draft 2020-12 / OpenAPI 3.1 subset) of one command type's params, generated
 * from the contract so API documents show the same bounds the validators enforce. Rules
 * across fields (e.g. "startTimeMs or startTicks") are in the description, not the schema.
 */
export function commandParamsJsonSchema(type: CommandType): Record<string, unknown> {
  const spec = commandSpec(type);
  const properties: Record<string, unknown> = {};
  for (const f of spec.fields) properties[f.name] = { ...fieldJsonSchema(f.rule), description: f.description };
  const required = spec.fields.filter((f) => f.required).map((f) => f.name);
  return { type: "object", description: spec.summary, additionalProperties: false, properties, ...(required.length ? { required } : {}) };
}

/** Every command type's params schema, keyed by type. */
export function allCommandParamsJsonSchemas(): Record<CommandType, Record<string, unknown>> {
  return Object.fromEntries(COMMAND_TYPES.map((t) => [t, commandParamsJsonSchema(t)])) as Record<CommandType, Record<string, unknown>>;
}
