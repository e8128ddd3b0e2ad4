import { type KeyObject, createPublicKey, verify as edVerify } from "node:crypto";
import { type Command, MAX_STRING_FIELD_BYTES, commandSigningPayload, signedCommandFields } from "@vigil/proto";
import { ReplayStore } from "./replay-store";

export type RefusalCode = "malformed" | "bad_signature" | "wrong_agent" | "expired" | "not_yet_valid" | "replayed" | "unavailable";

/** `type` is what the signature covered: the params oneof's case, or the legacy type field from an older controller. */
export type VerifyOutcome = { ok: true; type: string; params: unknown } | { ok: false; code: RefusalCode; reason: string };

export interface VerifierOptions {
  /** The controller's command-signing key as pinned at enrollment: raw 32-byte Ed25519. */
  controllerPublicKey: Buffer;
  agentId: string;
  stateDir: string;
  /** Tolerated clock difference between controller and agent. */
  clockSkewMs?: number;
  /** Longest validity window accepted; bounds how long a command id must be remembered. */
  maxLifetimeMs?: number;
  now?: () => number;
}

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const TYPE_PATTERN = /^[a-z_]{1,64}$/;
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** Builds a Node key from the raw 32 bytes the controller hands out in Welcome. */
export function ed25519PublicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

/**
 * Decides whether a Command may run. The checks run in an order that never lets an
 * unauthenticated message influence state: shape, then signature, then the signed
 * fields, and only a command that passed everything is recorded as seen.
 */
export class CommandVerifier {
  private readonly key: KeyObject;
  private readonly replay: ReplayStore;
  private readonly skew: number;
  private readonly maxLifetime: number;
  private readonly now: () => number;

  constructor(private readonly opts: VerifierOptions) {
    this.key = ed25519PublicKeyFromRaw(opts.controllerPublicKey);
    this.skew = opts.clockSkewMs ?? 30_000;
    this.maxLifetime = opts.maxLifetimeMs ?? 7 * 24 * 3600_000;
    this.now = opts.now ?? Date.now;
    this.replay = new ReplayStore(opts.stateDir, this.skew);
  }

  verify(cmd: Command): VerifyOutcome {
    const refuse = (code: RefusalCode, reason: string): VerifyOutcome => ({ ok: false, code, reason });

    if (!ID_PATTERN.test(cmd.id)) return refuse("malformed", "command id missing or malformed");
    // The typed params are preferred; their canonical JSON is what the signature covers (as params_json did before).
    const signed = signedCommandFields(cmd);
    if (!signed.ok) return refuse("malformed", signed.reason);
    const { type, paramsJson } = signed;
    if (!TYPE_PATTERN.test(type)) return refuse("malformed", "command type missing or malformed");
    if (Buffer.byteLength(paramsJson) > MAX_STRING_FIELD_BYTES) return refuse("malformed", `params larger than ${MAX_STRING_FIELD_BYTES} bytes`);
    if (!Number.isSafeInteger(cmd.issuedAtMs) || !Number.isSafeInteger(cmd.expiresAtMs)) return refuse("malformed", "issue or expiry time malformed");
    if (!((cmd.signature as unknown) instanceof Uint8Array)) return refuse("malformed", "signature missing");
    if (cmd.signature.length !== 64) return refuse("bad_signature", `signature must be 64 bytes, got ${cmd.signature.length}`);

    let good: boolean;
    try {
      good = edVerify(null, commandSigningPayload({ ...cmd, type, paramsJson }), this.key, cmd.signature);
    } catch {
      good = false;
    }
    if (!good) return refuse("bad_signature", "signature does not verify against the pinned controller key");

    if (cmd.agentId !== this.opts.agentId) return refuse("wrong_agent", `command is for agent ${JSON.stringify(cmd.agentId.slice(0, 128))}, not this one`);
    const now = this.now();
    if (cmd.expiresAtMs + this.skew < now) return refuse("expired", `expired ${now - cmd.expiresAtMs} ms ago`);
    // The clock may have gone back: ids of commands expired by the highest reading were forgotten.
    const highest = this.replay.observe(now);
    if (cmd.expiresAtMs < this.replay.horizonMs())
      return refuse("expired", `expired by the highest clock this agent has seen (${new Date(highest).toISOString()}); the clock has gone back ${highest - now} ms since`);
    if (cmd.issuedAtMs - this.skew > now) return refuse("not_yet_valid", `issued ${cmd.issuedAtMs - now} ms in the future (clock skew?)`);
    if (cmd.expiresAtMs < cmd.issuedAtMs) return refuse("malformed", "expires before it was issued");
    if (cmd.expiresAtMs - cmd.issuedAtMs > this.maxLifetime) return refuse("malformed", `validity window longer than ${this.maxLifetime} ms`);
    if (this.replay.has(cmd.id)) return refuse("replayed", `command ${cmd.id} was already received`);

    let params: unknown;
    try {
      params = paramsJson === "" ? {} : (JSON.parse(paramsJson) as unknown);
    } catch {
      return refuse("malformed", "params are not valid JSON");
    }
    if (typeof params !== "object" || params === null || Array.isArray(params)) return refuse("malformed", "params must be a JSON object");

    try {
      // Recorded before execution: a command that crashes the agent is still not re-run.
      this.replay.add(cmd.id, cmd.expiresAtMs, now);
    } catch (e) {
      // Fail closed: without a durable record a replay could not be detected after a restart.
      return refuse("unavailable", `cannot record command id: ${(e as Error).message}`);
    }
    return { ok: true, type, params };
  }

  /** Live entries in the replay store (for health reporting and tests). */
  replayEntries(): number {
    this.replay.prune(this.now());
    return this.replay.size();
  }
}
