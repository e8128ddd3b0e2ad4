import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Where the audit chain's HMAC key lives unless VIGIL_AUDIT_KEY gives it. */
export function auditKeyPath(dataDir: string): string {
  return join(dataDir, "keys", "audit-chain.key");
}

/**
 * The secret the audit chain is keyed with. It lives outside the database (the
 * data dir, 0600, or the environment), so someone who can write the database
 * cannot recompute the hashes after editing a record.
 * `create: false` (verification) never mints a key: a missing key is an error.
 */
export function loadAuditKey(dataDir: string, fromEnv: string | undefined, opts: { create: boolean } = { create: true }): Buffer {
  if (fromEnv !== undefined && fromEnv !== "") {
    if (fromEnv.length < 32) throw new Error("VIGIL_AUDIT_KEY must be at least 32 characters");
    return Buffer.from(fromEnv, "utf8");
  }
  const path = auditKeyPath(dataDir);
  if (existsSync(path)) {
    const text = readFileSync(path, "utf8").trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${path} is not an audit key (64 hex characters)`);
    return Buffer.from(text, "hex");
  }
  if (!opts.create) throw new Error(`no audit key: ${path} does not exist and VIGIL_AUDIT_KEY is not set`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // wx: two processes starting at once must not overwrite each other's key.
  try {
    writeFileSync(path, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return loadAuditKey(dataDir, undefined, { create: false });
    throw err;
  }
  chmodSync(path, 0o600);
  return key;
}
