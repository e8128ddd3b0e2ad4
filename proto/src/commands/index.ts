export { CommandParamError, type FieldRule, type FieldSpec } from "./fields";
export {
  COMMANDS,
  COMMAND_TYPES,
  LOCAL_POLICY_TYPES,
  PLAYBOOK_COMMANDS,
  type CommandParamsByType,
  type CommandParamsCase,
  type CommandSpec,
  type LocalPolicyType,
  type PlaybookCommandAction,
  type CommandType,
  type ParamsOf,
  commandSpec,
  isCommandType,
} from "./contract";
export { canonicalParamsJson, readsFileContents, undoOf, validateCommandParams, validatePresetParams } from "./validate";
export { type SignedFields, type UnsignedCommand, commandTypeOfCase, signedCommandFields, toWireCommand, typedParams } from "./wire";
export { allCommandParamsJsonSchemas, commandParamsJsonSchema } from "./json-schema";
