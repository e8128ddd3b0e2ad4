import { createHash } from "node:crypto";

/** sha256 of DER, lowercase hex: the form `--ca-pin` takes and the controller prints. */
export function fingerprint(der: Uint8Array | ArrayBuffer): string {
  return createHash("sha256")
    .update(der instanceof ArrayBuffer ? new Uint8Array(der) : der)
    .digest("hex");
}

/** Accepts `AB:CD:...`, upper or lower case, with or without a `sha256:` prefix. */
export function normalizePin(pin: string): string {
  const hex = pin
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, "")
    .replace(/[:\s]/g, "");
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`--ca-pin: expected a sha256 fingerprint (64 hex digits), got "${pin.slice(0, 80)}"`);
  return hex;
}
