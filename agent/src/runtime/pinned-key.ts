import { FatalTransportError } from "@vigil/proto";
import { readFileIfExists, writeFileAtomic } from "../platform/linux/atomic-file";
import { join } from "node:path";

/** Written here by enrollment or, without enrollment, by the first Welcome (trust on first use). */
export const PINNED_KEY_FILE = "controller-command-key";

/** Fatal for the link: the same controller will offer the same key on every reconnect. */
export class PinnedKeyMismatch extends FatalTransportError {
  constructor(
    readonly pinnedB64: string,
    readonly offeredB64: string,
  ) {
    super(`controller offered command key ${offeredB64}, but ${pinnedB64} is pinned; refusing this controller`);
    this.name = "PinnedKeyMismatch";
  }
}

function decode(text: string, path: string): Buffer {
  const b64 = text.trim();
  const raw = Buffer.from(b64, "base64");
  if (raw.length !== 32 || raw.toString("base64") !== b64) throw new Error(`corrupt pinned key ${path}: expected base64 of 32 bytes`);
  return raw;
}

/** The pinned raw Ed25519 key, or undefined when none is pinned yet. A corrupt file throws: never re-pin silently. */
export function loadPinnedKey(stateDir: string): Buffer | undefined {
  const path = join(stateDir, PINNED_KEY_FILE);
  const text = readFileIfExists(path);
  return text === undefined ? undefined : decode(text, path);
}

/** Atomic (temp + fsync + rename), mode 0600. */
export function savePinnedKey(stateDir: string, raw: Buffer): void {
  if (raw.length !== 32) throw new Error(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  writeFileAtomic(join(stateDir, PINNED_KEY_FILE), raw.toString("base64") + "\n");
}

/**
 * Pins `offered` if nothing is pinned; otherwise it must equal the pinned key.
 * Throws PinnedKeyMismatch for a different key (a rogue or re-keyed controller:
 * an operator must remove the file to accept it).
 */
export function pinOrVerify(stateDir: string, offered: Uint8Array): { key: Buffer; firstUse: boolean } {
  const raw = Buffer.from(offered);
  if (raw.length !== 32) throw new Error(`controller sent a command key of ${raw.length} bytes, expected 32`);
  const pinned = loadPinnedKey(stateDir);
  if (pinned === undefined) {
    savePinnedKey(stateDir, raw);
    return { key: raw, firstUse: true };
  }
  if (!pinned.equals(raw)) throw new PinnedKeyMismatch(pinned.toString("base64"), raw.toString("base64"));
  return { key: pinned, firstUse: false };
}
