import { createHash, type KeyObject, verify as edVerify } from "node:crypto";
import { type Command, type CommandResult, CommandStatus, commandSigningPayload, signedCommandFields } from "@vigil/proto";
import { CommandExecutor, CommandVerifier, ed25519PublicKeyFromRaw, type LocalAction } from "../commands";
import type { CommandHandler, EnforcementMode } from "../enforcement";
import type { Log } from "../util/log";
import { ResultCache } from "./result-cache";

/** Who a result is reported for; local results name the rule that fired. */
export interface ResultMeta {
  ruleId?: string;
}

export type ResultSink = (result: CommandResult, meta: ResultMeta) => void;

export interface GatewayOptions {
  stateDir: string;
  agentId: string;
  handlers: readonly CommandHandler<unknown>[];
  mode: EnforcementMode;
  /** Every result, controller command or local action, goes here exactly once. */
  report: ResultSink;
  log: Log;
  /** Kept past expiry so a late re-delivery is still answered (the verifier forgets ids after expiry + skew). */
  cacheMarginMs?: number;
  now?: () => number;
}

/**
 * The agent's one door for actions: controller commands (answered from the result
 * cache on re-delivery, else verified and executed) and local-policy actions. It
 * needs the pinned controller key before it can verify anything.
 */
export class CommandGateway {
  private executor?: CommandExecutor;
  private key?: { raw: Buffer; obj: KeyObject };
  private readonly cache: ResultCache;
  private readonly inFlight = new Map<string, { digest: string; result: Promise<CommandResult> }>();
  private readonly now: () => number;

  constructor(private readonly o: GatewayOptions) {
    this.now = o.now ?? Date.now;
    this.cache = new ResultCache(o.stateDir, this.now);
  }

  /** Arms the gateway with the pinned key; the same key again is a no-op. */
  useControllerKey(raw: Buffer): void {
    if (this.key?.raw.equals(raw)) return;
    if (this.key) throw new Error("the controller key is already pinned to a different value");
    const verifier = new CommandVerifier({ controllerPublicKey: raw, agentId: this.o.agentId, stateDir: this.o.stateDir, now: this.now });
    this.executor = new CommandExecutor({ verifier, handlers: this.o.handlers, mode: this.o.mode, now: this.now });
    this.key = { raw, obj: ed25519PublicKeyFromRaw(raw) };
  }

  armed(): boolean {
    return this.executor !== undefined;
  }

  /** A controller command; never throws. */
  handleCommand(cmd: Command): Promise<CommandResult> {
    const digest = commandDigest(cmd);
    const cached = this.cache.get(cmd.id, digest);
    if (cached) {
      this.o.log.info("command re-delivered; answering from the result cache", { commandId: cmd.id, type: cmd.type });
      return Promise.resolve(cached);
    }
    const running = this.inFlight.get(cmd.id);
    if (running?.digest === digest) return running.result;
    const result = this.execute(cmd, digest).finally(() => {
      if (this.inFlight.get(cmd.id)?.digest === digest) this.inFlight.delete(cmd.id);
    });
    this.inFlight.set(cmd.id, { digest, result });
    return result;
  }

  /** An action the agent's own policy decided on; never throws. */
  async runLocal(action: LocalAction, meta: ResultMeta): Promise<CommandResult> {
    const result = this.executor
      ? await this.executor.executeLocal(action)
      : localResult(action.id ?? "local", action.type, CommandStatus.COMMAND_STATUS_REFUSED, "no controller key is pinned yet, so no local policy can be trusted", this.now());
    this.deliver(result, meta);
    return result;
  }

  /** Reports a local decision that could not become an action (e.g. the event named no process identity). */
  reportLocal(result: CommandResult, meta: ResultMeta): void {
    this.deliver(result, meta);
  }

  private async execute(cmd: Command, digest: string): Promise<CommandResult> {
    let result: CommandResult;
    if (!this.executor || !this.key) {
      result = {
        commandId: cmd.id,
        type: cmd.type,
        local: false,
        status: CommandStatus.COMMAND_STATUS_REFUSED,
        reason: "unavailable: no controller key is pinned",
        outputJson: "{}",
        finishedAtMs: this.now(),
      };
    } else {
      result = await this.executor.execute(cmd);
      // Only commands really signed by the pinned key are remembered: forged ones must not fill the cache.
      if (!result.reason.startsWith("replayed:") && this.signedByPinnedKey(cmd)) {
        try {
          this.cache.put(cmd.id, digest, cmd.expiresAtMs + (this.o.cacheMarginMs ?? 10 * 60_000), result);
        } catch (e) {
          this.o.log.warn("could not persist command result for re-delivery", { commandId: cmd.id, error: (e as Error).message });
        }
      }
    }
    this.deliver(result, {});
    return result;
  }

  private deliver(result: CommandResult, meta: ResultMeta): void {
    const fields = { commandId: result.commandId, type: result.type, status: CommandStatus[result.status], local: result.local, ruleId: meta.ruleId, reason: result.reason };
    if (result.status === CommandStatus.COMMAND_STATUS_SUCCEEDED || result.status === CommandStatus.COMMAND_STATUS_NOT_ENFORCED) this.o.log.info("command result", fields);
    else this.o.log.warn("command result", fields);
    try {
      this.o.report(result, meta);
    } catch (e) {
      this.o.log.error("could not report command result", { commandId: result.commandId, error: (e as Error).message });
    }
  }

  private signedByPinnedKey(cmd: Command): boolean {
    if (!this.key || cmd.signature.length !== 64) return false;
    try {
      return edVerify(null, commandSigningPayload(cmd), this.key.obj, cmd.signature);
    } catch {
      return false;
    }
  }
}

/** Names one delivery: what its signature covers (the typed params when present) and the signature. */
export function commandDigest(cmd: Command): string {
  const signed = signedCommandFields(cmd);
  const fields = signed.ok ? { ...cmd, type: signed.type, paramsJson: signed.paramsJson } : cmd;
  return createHash("sha256").update(commandSigningPayload(fields)).update(cmd.signature).digest("hex");
}

export function localResult(commandId: string, type: string, status: CommandStatus, reason: string, finishedAtMs: number, output: Record<string, unknown> = {}): CommandResult {
  return { commandId, type, local: true, status, reason, outputJson: JSON.stringify(output), finishedAtMs };
}
