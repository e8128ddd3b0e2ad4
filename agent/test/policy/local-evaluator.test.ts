/** The local policy's correlations fire early: an offline agent blocks a brute force on the fifth failure. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AuthAction, Event } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { LocalEvaluator, parsePolicyDocument } from "../../src/policy";

const BRUTE = readFileSync(join(__dirname, "../../../detection/rules/lnx_ssh_brute_force.yml"), "utf8");
const policy = parsePolicyDocument(JSON.stringify({ version: 1, rules: [{ id: "brute", yaml: BRUTE }], iocs: [], actions: [{ ruleId: "brute", actions: [{ type: "block_ip" }] }] }));
const failure = (ip: string, timeMs: number, seq: number): Event =>
  Event.fromPartial({
    seq,
    eventTimeMs: timeMs,
    body: {
      $case: "auth",
      auth: {
        action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
        user: "root",
        sourceIp: ip,
        sourcePort: 40000 + seq,
        method: "password",
        pid: 100 + seq,
        service: "sshd",
        raw: `Failed password for root from ${ip}`,
      },
    },
  });

// A minute into a 10-minute span (the rule's dedup span), so no burst here straddles two spans.
const spanStart = (): number => Math.floor(Date.now() / 600_000) * 600_000 + 60_000;

describe("LocalEvaluator correlations", () => {
  it("fires the brute-force rule on the fifth failure itself, with no clock tick and nothing held", () => {
    const ev = new LocalEvaluator(policy, () => ({ agentId: "a1", hostname: "web1" }));
    const t0 = spanStart();
    const hits = [0, 1, 2, 3, 4].map((i) => ev.evaluate(failure("203.0.113.5", t0 + i * 200, i + 1)));
    expect(hits.slice(0, 4).flat()).toEqual([]);
    expect(hits[4]).toEqual([{ ruleId: "brute", title: "SSH Brute Force From One Source", actions: [{ type: "block_ip", params: {} }] }]);
    // The next ticks settle the alert; nothing fires again for the same source.
    expect(ev.tick(t0 + 11 * 60_000)).toEqual([]);
    expect(ev.evaluate(failure("203.0.113.5", t0 + 1_200, 6))).toEqual([]);
  });

  it("a fifth failure that arrives out of order (within the tolerance) still fires at once, and its later revision does not act twice", () => {
    const ev = new LocalEvaluator(policy, () => ({ agentId: "a1", hostname: "web1" }));
    const t0 = spanStart();
    for (const [i, dt] of [400, 600, 800, 1_000].entries()) expect(ev.evaluate(failure("198.51.100.7", t0 + dt, i + 1))).toEqual([]);
    expect(ev.evaluate(failure("198.51.100.7", t0, 5))).toHaveLength(1);
    // An even earlier one moves the first hit: the engine sends an update at settle, the policy ignores it.
    expect(ev.evaluate(failure("198.51.100.7", t0 - 500, 6))).toEqual([]);
    expect(ev.tick(t0 + 11 * 60_000)).toEqual([]);
  });
});
