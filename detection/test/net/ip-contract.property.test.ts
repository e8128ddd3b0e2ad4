import fc from "fast-check";
import { validateCommandParams } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { formatIp, ipFromBytes, parsePrefix } from "../../src/net/ip";

/**
 * The command contract (@vigil/proto, checked by the controller before signing) and the agent's
 * nft prefixes (this module) must accept the same IP text: a block_ip the controller signs must
 * be one the agent can apply, and one it would refuse must be refused before it is signed.
 */
const contractAccepts = (ip: string): boolean => {
  try {
    validateCommandParams("block_ip", { ip });
    return true;
  } catch {
    return false;
  }
};

const ipish = fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:./%[]x- "), maxLength: 48 });
const realIp = fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map((b) => formatIp(ipFromBytes(b)));
const withPrefix = fc.tuple(realIp, fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined })).map(([a, len]) => (len === undefined ? a : `${a}/${len}`));

describe("the command contract and the IP module agree on block_ip addresses", () => {
  it("on real addresses and prefixes (valid and out of range)", () => {
    fc.assert(
      fc.property(withPrefix, (s) => {
        expect(contractAccepts(s), s).toBe(parsePrefix(s).ok);
      }),
    );
  });

  it("on hostile IP-shaped text", () => {
    fc.assert(
      fc.property(ipish, (s) => {
        expect(contractAccepts(s), JSON.stringify(s)).toBe(parsePrefix(s).ok);
      }),
      { numRuns: 2000, examples: [[" 1.2.3.4"], ["1.2.3.4 "], ["010.0.0.1"], ["1.2.3.4/08"], ["fe80::1%eth0"], ["[::1]"], ["::ffff:1.2.3.4/120"], ["1.2.3.4/"], ["/8"], ["1::2::3"]] },
    );
  });
});
