export { createEnforcement, type Enforcement, type EnforcementDeps } from "./enforcement";
export {
  type CommandHandler,
  type EnforcementMode,
  type HandlerOutcome,
  type RunContext,
  ParamError,
} from "./handler";
export { IsolationManager, type IsolationDeps, type IsolationResult, type IsolationState } from "./isolation";
export { type IsolationPolicy, ISOLATE_FAMILY, ISOLATE_TABLE, buildIsolationRuleset } from "./isolation-ruleset";
export { BlockManager, type BlockDeps, type BlockEntry, BLOCK_FAMILY, BLOCK_TABLE, MAX_BLOCK_SECONDS } from "./block";
export { killProcess, type KillTarget, type KillOutcome } from "./process-kill";
export { readProcStat, startTimeMs, bootTimeMs, type ProcStat } from "../platform/linux/processes";
export { Nft, nftAvailable } from "./nft";
export { type CommandRunner, type RunResult, type RunOptions, createRunner } from "./runner";
export { type UserNotifier, wallNotifier } from "./notify";
