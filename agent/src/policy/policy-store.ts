import { createHash, verify as edVerify } from "node:crypto";
import { join } from "node:path";
import { type PolicyUpdate, policySigningPayload } from "@vigil/proto";
import { ed25519PublicKeyFromRaw } from "../commands";
import { readJsonState, writeJsonAtomic } from "../platform/linux/atomic-file";
import { type LocalPolicyDocument, parsePolicyDocument } from "./policy-document";

/** The signed update exactly as received, so it can be re-verified after every restart. */
interface StoredPolicy {
  version: number;
  policyJson: string;
  signature: string;
  issuedAtMs: number;
}

export type PolicyDecision = { kind: "accepted"; doc: LocalPolicyDocument } | { kind: "unchanged" } | { kind: "refused"; reason: string };

const FILE = "local-policy.json";

/**
 * The local policy on disk: only an update signed by the pinned controller key for
 * this agent, newer than the one held, replaces it. What is on disk is re-verified at
 * load, so editing the file on the host cannot plant a policy.
 */
export class PolicyStore {
  private readonly path: string;
  private held?: { version: number; digest: string };

  constructor(
    stateDir: string,
    private readonly agentId: string,
  ) {
    this.path = join(stateDir, FILE);
  }

  version(): number | undefined {
    return this.held?.version;
  }

  /** The persisted policy, if any and if it still verifies; throws with the reason otherwise. */
  load(key: Buffer): LocalPolicyDocument | undefined {
    const raw = readJsonState(this.path) as StoredPolicy | undefined;
    if (raw === undefined) return undefined;
    if (typeof raw !== "object" || raw === null || typeof raw.policyJson !== "string" || typeof raw.signature !== "string") throw new Error(`corrupt state file ${this.path}: unexpected shape`);
    const update: PolicyUpdate = { version: raw.version, policyJson: raw.policyJson, signature: Buffer.from(raw.signature, "base64"), issuedAtMs: raw.issuedAtMs };
    const why = this.check(update, key);
    if (typeof why === "string") throw new Error(`stored policy ${this.path} refused: ${why}`);
    this.held = { version: update.version, digest: digest(update) };
    return why;
  }

  offer(update: PolicyUpdate, key: Buffer): PolicyDecision {
    const d = digest(update);
    if (this.held && update.version === this.held.version && d === this.held.digest) return { kind: "unchanged" };
    const checked = this.check(update, key);
    if (typeof checked === "string") return { kind: "refused", reason: checked };
    if (this.held && update.version <= this.held.version) return { kind: "refused", reason: `version ${update.version} is not newer than the held version ${this.held.version}` };
    writeJsonAtomic(this.path, {
      version: update.version,
      policyJson: update.policyJson,
      signature: Buffer.from(update.signature).toString("base64"),
      issuedAtMs: update.issuedAtMs,
    } satisfies StoredPolicy);
    this.held = { version: update.version, digest: d };
    return { kind: "accepted", doc: checked };
  }

  /** The parsed document, or why the update is refused. */
  private check(update: PolicyUpdate, key: Buffer): LocalPolicyDocument | string {
    if (!Number.isSafeInteger(update.version) || !Number.isSafeInteger(update.issuedAtMs)) return "malformed: version or issue time";
    let good: boolean;
    try {
      good = update.signature.length === 64 && edVerify(null, policySigningPayload(update, this.agentId), ed25519PublicKeyFromRaw(key), update.signature);
    } catch {
      good = false;
    }
    if (!good) return "bad_signature: policy signature does not verify against the pinned controller key for this agent";
    let doc: LocalPolicyDocument;
    try {
      doc = parsePolicyDocument(update.policyJson);
    } catch (e) {
      return `malformed: ${(e as Error).message}`;
    }
    if (doc.version !== update.version) return `malformed: policy_json version ${doc.version} differs from the signed update's version ${update.version}`;
    return doc;
  }
}

function digest(u: PolicyUpdate): string {
  return createHash("sha256")
    .update(JSON.stringify([u.version, u.policyJson, u.issuedAtMs]))
    .update(u.signature)
    .digest("hex");
}
