import { describe, expect, it } from "vitest";
import { DEFAULT_DEDUP_CONFIG, dedupKey, mergeMatch, shouldMerge, type DedupState } from "../../src/noise/dedup";
import type { EntityRef } from "../../src/scoring/entity";

const M = 60_000;
const ip: EntityRef = { kind: "ip", id: "203.0.113.9" };
const open = (over: Partial<DedupState> = {}): DedupState => ({ dedupKey: dedupKey("brute", ip), firstSeenMs: 100 * M, lastSeenMs: 105 * M, count: 3, state: "new", ...over });

describe("dedup", () => {
  it("keys on rule and entity", () => {
    expect(dedupKey("brute", ip)).toBe("brute|ip:203.0.113.9");
    expect(dedupKey("brute", { kind: "user", id: "203.0.113.9" })).not.toBe(dedupKey("brute", ip));
  });

  it("merges the same rule and entity within the window", () => {
    expect(shouldMerge(open(), { ruleId: "brute", entity: ip }, 110 * M)).toBe(true);
    expect(shouldMerge(open(), { ruleId: "brute", entity: ip }, 116 * M)).toBe(false);
    expect(shouldMerge(open(), { ruleId: "other", entity: ip }, 106 * M)).toBe(false);
    expect(shouldMerge(open(), { ruleId: "brute", entity: { kind: "ip", id: "1.1.1.1" } }, 106 * M)).toBe(false);
  });

  it("merges a late match from before the first sighting when within the window", () => {
    expect(shouldMerge(open(), { ruleId: "brute", entity: ip }, 92 * M)).toBe(true);
    expect(shouldMerge(open(), { ruleId: "brute", entity: ip }, 89 * M)).toBe(false);
    expect(mergeMatch(open(), 92 * M)).toMatchObject({ count: 4, firstSeenMs: 92 * M, lastSeenMs: 105 * M });
  });

  it("never merges into a resolved alert, and caps an alert's span", () => {
    expect(shouldMerge(open({ state: "resolved" }), { ruleId: "brute", entity: ip }, 106 * M)).toBe(false);
    expect(shouldMerge(open({ state: "acknowledged" }), { ruleId: "brute", entity: ip }, 106 * M)).toBe(true);
    const long = open({ firstSeenMs: 0, lastSeenMs: DEFAULT_DEDUP_CONFIG.maxSpanMs - M });
    expect(shouldMerge(long, { ruleId: "brute", entity: ip }, DEFAULT_DEDUP_CONFIG.maxSpanMs + M)).toBe(false);
  });

  it("uses the rule's own window when given", () => {
    expect(shouldMerge(open(), { ruleId: "brute", entity: ip }, 116 * M, { ...DEFAULT_DEDUP_CONFIG, windowMs: 60 * M })).toBe(true);
  });
});
