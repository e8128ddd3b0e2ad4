/**
 * Vigil's own secrets as the controller mints them (controller/src/trust/secret-token.ts):
 * `<prefix>_<16 hex id>_<43 base64url secret>`, prefix `vet` for agent enrollment tokens and
 * `vk` for API keys. Both ends redact them from what they record (command lines, audit
 * records, log lines), so a token typed on a command line never reaches the timeline.
 */
export const VIGIL_SECRET_PREFIXES = ["vet", "vk"] as const;
export const REDACTED = "[REDACTED]";

// Linear time: a literal prefix, bounded counts and one flat character class, nothing nested
// that could backtrack. The id stays (it is not secret and tells which token or key leaked,
// so it can be revoked); everything after it is dropped, including a secret cut short by clipping.
const SECRET = /(vet|vk)_([0-9a-f]{16})_[A-Za-z0-9_-]+/g;

/** `s` with every Vigil token or API key secret replaced by [REDACTED]; `s` itself when none. */
export function redactVigilSecrets(s: string): string {
  // Fast path for the common string: both prefixes contain "_", most command lines have none near it.
  if (s.indexOf("_") < 0) return s;
  SECRET.lastIndex = 0;
  if (!SECRET.test(s)) return s;
  return s.replace(SECRET, (_m, prefix: string, id: string) => `${prefix}_${id}_${REDACTED}`);
}
