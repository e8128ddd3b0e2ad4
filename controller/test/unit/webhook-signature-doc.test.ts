import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signBody } from "../../src/webhooks/signature";

/** The README's receiver snippet, run as written against what the controller signs. */
function readmeVerify(): (secret: string, headers: Record<string, string>, body: string) => boolean {
  // The snippet sits indented in a list item: take the indentation off.
  const readme = readFileSync(join(__dirname, "../../../README.md"), "utf8").replace(/^ {2}/gm, "");
  const block = /```js\n(import \{ createHmac, timingSafeEqual \} from "node:crypto";\n)(function verify[\s\S]*?)```/.exec(readme);
  if (!block) throw new Error("README has no webhook verification snippet");
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the test runs the README's own snippet, which is the point
  return new Function("createHmac", "timingSafeEqual", `${block[2]}; return verify;`)(createHmac, timingSafeEqual);
}

describe("README webhook signature snippet", () => {
  it("accepts a delivery signed by the controller and rejects tampering, old timestamps and junk", () => {
    const verify = readmeVerify();
    const secret = "a-destination-secret-0123456789";
    const body = JSON.stringify({ type: "alert.created", data: { id: "1" } });
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = signBody(secret, Number(ts), body);
    expect(verify(secret, { "x-vigil-timestamp": ts, "x-vigil-signature": sig }, body)).toBe(true);
    expect(verify(secret, { "x-vigil-timestamp": ts, "x-vigil-signature": sig }, body.replace("1", "2"))).toBe(false);
    expect(verify("another-secret-0123456789", { "x-vigil-timestamp": ts, "x-vigil-signature": sig }, body)).toBe(false);
    const old = String(Number(ts) - 3600);
    expect(verify(secret, { "x-vigil-timestamp": old, "x-vigil-signature": signBody(secret, Number(old), body) }, body)).toBe(false);
    expect(verify(secret, { "x-vigil-timestamp": ts, "x-vigil-signature": "sha256=" + "é".repeat(64) }, body)).toBe(false);
    expect(verify(secret, { "x-vigil-signature": sig }, body)).toBe(false);
  });
});
