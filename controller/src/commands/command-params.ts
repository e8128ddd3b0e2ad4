import {
  COMMAND_TYPES,
  CommandParamError as ContractError,
  type CommandType,
  type ParamsOf,
  commandSpec,
  readsFileContents,
  validateCommandParams as validateByContract,
  validatePresetParams as validatePresetByContract,
} from "@vigil/proto";

/**
 * The parameters each command type takes are defined once, in @vigil/proto's command
 * contract (shared with the agent). This is the API's wording of its errors: checked
 * before anything is signed, so a caller gets a 400 naming the parameter instead of a
 * command the agent will refuse. The agent validates again: it trusts only itself.
 */
export class CommandParamError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    // A key is caller-chosen and may be huge: the error echoes only its start.
    super(param === "params" ? `params: ${message}` : `params.${param.slice(0, 64)}: ${message}`);
  }
}

function worded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ContractError) throw new CommandParamError(e.field, e.problem);
    throw e;
  }
}

export { COMMAND_TYPES, readsFileContents };

/** The typed params of a valid command; throws CommandParamError (a 400) naming the parameter and its bound. */
export function validateCommandParams(type: string, params: unknown): ParamsOf<CommandType> {
  return worded(() => validateByContract(type, params));
}

/** Params a playbook author fixes in advance: each a known parameter of the type with a valid value. */
export function validatePresetParams(type: string, params: Record<string, unknown>): void {
  worded(() => validatePresetByContract(type, params));
}

/**
 * Each type's parameter names, required and optional, read from the contract: for API
 * documents that list them (commandParamsJsonSchema in @vigil/proto gives the full schema with bounds).
 */
export const COMMAND_SCHEMAS: Readonly<Record<string, { required: Record<string, true>; optional: Record<string, true>; oneOf?: string[] }>> = Object.fromEntries(
  COMMAND_TYPES.map((t) => {
    const fields = commandSpec(t).fields;
    const names = (required: boolean) => Object.fromEntries(fields.filter((f) => (f.required === true) === required).map((f) => [f.name, true as const]));
    return [t, { required: names(true), optional: names(false) }];
  }),
);
