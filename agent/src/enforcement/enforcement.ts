import { BlockManager } from "./block";
import { blockIpHandler, unblockIpHandler } from "./block-handlers";
import { collectEvidenceHandler } from "./evidence";
import type { CommandHandler } from "./handler";
import { IsolationManager } from "./isolation";
import { isolateHandler, releaseHandler } from "./isolation-handlers";
import type { IsolationPolicy } from "./isolation-ruleset";
import { killProcessHandler } from "./kill-handler";
import { Nft } from "./nft";
import { type UserNotifier, wallNotifier } from "./notify";
import { type CommandRunner, createRunner } from "./runner";
import { terminateSessionHandler } from "./session";

export interface EnforcementDeps {
  stateDir: string;
  /** Paths collect_evidence never reads besides the built-in deny list (config evidence_deny). */
  evidenceDenyPaths?: readonly string[];
  /** Defaults to running on this host; tests pass ["ip","netns","exec",ns] as a prefix. */
  run?: CommandRunner;
  /** Controller endpoints and allowlists, read at every isolate/re-apply. */
  isolationPolicy: () => IsolationPolicy;
  /** Proves the controller is still reachable after isolation (e.g. a stream round trip). */
  checkControllerReachable: () => Promise<boolean>;
  notifyUsers?: UserNotifier;
  /** Never signalled; defaults to the agent's own pid. */
  protectedPids?: readonly number[];
}

export interface Enforcement {
  handlers: CommandHandler<unknown>[];
  isolation: IsolationManager;
  blocks: BlockManager;
  /** Call once at agent start, before connecting: restores isolation and unexpired blocks. */
  reapplyOnStart(): Promise<{ isolation: { reapplied: boolean; error?: string }; blocks: { reapplied: number; error?: string } }>;
}

/** Builds every handler over one runner and state dir; hand `handlers` to the CommandExecutor only. */
export function createEnforcement(deps: EnforcementDeps): Enforcement {
  const run = deps.run ?? createRunner();
  const nft = new Nft(run);
  const protectedPids = deps.protectedPids ?? [process.pid];
  const isolation = new IsolationManager({
    nft,
    stateDir: deps.stateDir,
    policy: deps.isolationPolicy,
    checkControllerReachable: deps.checkControllerReachable,
    notifyUsers: deps.notifyUsers ?? wallNotifier(run),
  });
  const blocks = new BlockManager({ nft, stateDir: deps.stateDir, protectedAddresses: () => deps.isolationPolicy().controller.addresses });
  const handlers: CommandHandler<unknown>[] = [
    isolateHandler(isolation),
    releaseHandler(isolation),
    blockIpHandler(blocks),
    unblockIpHandler(blocks),
    killProcessHandler({ protectedPids }),
    terminateSessionHandler({ run, protectedPids }),
    collectEvidenceHandler({ stateDir: deps.stateDir, denyPaths: deps.evidenceDenyPaths }),
  ];
  return {
    handlers,
    isolation,
    blocks,
    async reapplyOnStart() {
      const iso = await isolation.reapplyOnStart().catch((e: Error) => ({ reapplied: false, error: e.message }));
      const bl = await blocks.reapplyOnStart().catch((e: Error) => ({ reapplied: 0, error: e.message }));
      return { isolation: iso, blocks: bl };
    },
  };
}
