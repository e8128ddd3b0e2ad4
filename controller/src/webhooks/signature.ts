import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "X-Vigil-Signature";
export const TIMESTAMP_HEADER = "X-Vigil-Timestamp";

/**
 * `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. The timestamp (Unix seconds, sent
 * in X-Vigil-Timestamp) is inside the MAC, so a receiver that rejects old timestamps cannot be
 * fed a captured request again later.
 */
export function signBody(secret: string, timestampSec: number, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(`${timestampSec}.${body}`).digest("hex");
}

/** What a receiver does (and what the tests do): constant-time compare, bounded clock skew. */
export function verifySignature(secret: string, signature: string | undefined, timestamp: string | undefined, body: string, nowSec: number, toleranceSec = 300): boolean {
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = Buffer.from(signBody(secret, ts, body));
  const got = Buffer.from(signature);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Shows that a secret is set and which one, without showing it. */
export function secretHint(secret: string | null | undefined): string | null {
  return secret ? `…${secret.slice(-4)}` : null;
}
