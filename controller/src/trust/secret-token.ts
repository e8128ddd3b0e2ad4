import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Secrets handed to humans have the shape `<prefix>_<id>_<secret>`: the id
 * finds the row without scanning, the secret is only ever compared by hash.
 */
export function mintSecret(prefix: string): { id: string; secret: string; token: string } {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, secret, token: `${prefix}_${id}_${secret}` };
}

export function parseSecret(prefix: string, token: string): { id: string; secret: string } | undefined {
  if (typeof token !== "string" || token.length > 200) return undefined;
  const m = new RegExp(`^${prefix}_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$`).exec(token.trim());
  return m ? { id: m[1], secret: m[2] } : undefined;
}

export function sha256Hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

export function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}
