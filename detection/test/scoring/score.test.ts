import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { scoreAlert, type ScoreInput } from "../../src/scoring/score";
import { DEFAULT_SCORE_WEIGHTS, RULE_LEVELS, scoreWeights } from "../../src/scoring/config";
import { tacticsFromTags, type RelatedAlert } from "../../src/scoring/factors";
import type { EntityRef } from "../../src/scoring/entity";

const host: EntityRef = { kind: "host", id: "agent-1" };
const user: EntityRef = { kind: "user", id: "root" };
const ip: EntityRef = { kind: "ip", id: "203.0.113.9" };
const T = 1_700_000_000_000;
const base: ScoreInput = { ruleId: "ssh-bruteforce", level: "medium", timeMs: T, entities: [host, ip] };
const sum = (s: { breakdown: { points: number }[] }) => s.breakdown.reduce((a, f) => a + f.points, 0);

describe("scoreAlert", () => {
  it("scores a bare rule by its level", () => {
    const s = scoreAlert(base);
    expect(s).toEqual({ score: 35, breakdown: [{ factor: "level", points: 35, detail: "rule level medium" }] });
    const levels = RULE_LEVELS.map((level) => scoreAlert({ ...base, level }).score);
    expect(levels).toEqual([...levels].sort((a, b) => a - b));
  });

  it("adds IOC confidence (highest hit), asset tags (capped) and baseline deviations", () => {
    const s = scoreAlert({
      ...base,
      level: "low",
      iocConfidences: [40, 80],
      agentTags: ["Critical", "server", "production", "laptop"],
      deviations: [
        { kind: "new_source_ip", detail: "first login of root from 203.0.113.9" },
        { kind: "unusual_hour", detail: "login at 03:00 UTC" },
      ],
    });
    expect(s.breakdown).toEqual([
      { factor: "level", points: 15, detail: "rule level low" },
      { factor: "ioc", points: 20, detail: "2 IOC hits, highest confidence 80" },
      { factor: "asset", points: 20, detail: "agent tags critical, server, production (capped at 20)" },
      { factor: "baseline", points: 15, detail: "first login of root from 203.0.113.9; login at 03:00 UTC" },
    ]);
    expect(s.score).toBe(70);
  });

  it("chains other rules on a shared entity within the window, more for more tactics", () => {
    const related: RelatedAlert[] = [
      { ruleId: "new-authorized-key", timeMs: T - 10 * 60_000, entities: [host, user], tactics: ["persistence"] },
      { ruleId: "reverse-shell", timeMs: T + 5 * 60_000, entities: [host], tactics: ["execution"] },
      { ruleId: "ssh-bruteforce", timeMs: T - 60_000, entities: [host, ip] }, // same rule: dedup's job
      { ruleId: "too-old", timeMs: T - 2 * 60 * 60_000, entities: [host] },
      { ruleId: "other-host", timeMs: T, entities: [{ kind: "host", id: "agent-2" }] },
    ];
    const s = scoreAlert({ ...base, tactics: ["credential_access"], relatedAlerts: related });
    const chain = s.breakdown.find((f) => f.factor === "chain");
    // 2 related rules x 5 + (3 tactics - 1) x 5
    expect(chain).toMatchObject({ points: 20 });
    expect(chain?.detail).toContain("new-authorized-key, reverse-shell");
    expect(chain?.detail).toContain("credential_access, execution, persistence");
    const oneTactic = scoreAlert({ ...base, tactics: ["credential_access"], relatedAlerts: [{ ...related[0]!, tactics: ["credential_access"] }] });
    expect(oneTactic.breakdown.find((f) => f.factor === "chain")?.points).toBe(5);
  });

  it("names chained rules by title and entities by their labels when given, ids otherwise", () => {
    const related: RelatedAlert[] = [
      { ruleId: "545f0eb8-bc7b-4ddb-9a82-d6cbcc32a051", ruleTitle: "Execution From Temporary Directory", timeMs: T - 60_000, entities: [host] },
      { ruleId: "no-title", timeMs: T - 60_000, entities: [host] },
    ];
    const labels = new Map([[`host:${host.id}`, "host web-1"]]);
    const detail = scoreAlert({ ...base, relatedAlerts: related, entityLabels: labels }).breakdown.find((f) => f.factor === "chain")?.detail ?? "";
    expect(detail).toContain("2 other rules (Execution From Temporary Directory, no-title) on host web-1 within");
    expect(detail).not.toContain("545f0eb8");
    expect(scoreAlert({ ...base, relatedAlerts: related }).breakdown.find((f) => f.factor === "chain")?.detail).toContain(`on host:${host.id} within`);
  });

  it("clamps at 100 with a visible clamp line, and the breakdown still sums to the score", () => {
    const s = scoreAlert({ ...base, level: "critical", iocConfidences: [100], agentTags: ["critical"] });
    expect(s.score).toBe(100);
    expect(s.breakdown.at(-1)).toEqual({ factor: "clamp", points: -15, detail: "raw score 115 clamped to 100" });
    expect(sum(s)).toBe(100);
    const neg = scoreAlert(base, scoreWeights({ level: { medium: -20 } }));
    expect(neg.score).toBe(0);
    expect(neg.breakdown.at(-1)).toMatchObject({ factor: "clamp", points: 20 });
  });

  it("applies analyst feedback as a bounded multiplier shown in points", () => {
    expect(scoreAlert({ ...base, feedbackWeight: 0.5 }).breakdown.at(-1)).toMatchObject({ factor: "feedback", points: -17 });
    expect(scoreAlert({ ...base, feedbackWeight: 0.5 }).score).toBe(18);
    // Below the floor the weight is held at feedbackMin (0.2).
    expect(scoreAlert({ ...base, feedbackWeight: 0 }).score).toBe(7);
    expect(scoreAlert({ ...base, feedbackWeight: 1.2 }).score).toBe(42);
    expect(scoreAlert({ ...base, feedbackWeight: 1 }).breakdown).toHaveLength(1);
  });

  it("refuses an unknown level with a message naming the rule", () => {
    expect(() => scoreAlert({ ...base, level: "severe" as never })).toThrow(/rule ssh-bruteforce has unknown level 'severe'/);
  });

  it("reads tactics from Sigma tags", () => {
    expect(tacticsFromTags(["attack.credential_access", "attack.t1110", "attack.Command-And-Control", "cve.2021"])).toEqual(["credential_access", "command_and_control"]);
  });

  it("property: score is an integer in 0-100 and equals the sum of its breakdown", () => {
    const entity = fc.record({ kind: fc.constantFrom("host" as const, "user" as const, "ip" as const), id: fc.constantFrom("a", "b") });
    const input = fc.record({
      ruleId: fc.constantFrom("r1", "r2", "r3"),
      level: fc.constantFrom(...RULE_LEVELS),
      timeMs: fc.integer({ min: 0, max: 10_000_000 }),
      entities: fc.array(entity, { maxLength: 3 }),
      tactics: fc.array(fc.constantFrom("execution", "persistence", "impact")),
      iocConfidences: fc.array(fc.oneof(fc.double(), fc.integer({ min: -50, max: 500 }))),
      agentTags: fc.array(fc.constantFrom("critical", "server", "dmz", "x")),
      deviations: fc.array(fc.record({ kind: fc.constantFrom("new_source_ip" as const, "unusual_hour" as const), detail: fc.string() })),
      relatedAlerts: fc.array(
        fc.record({ ruleId: fc.constantFrom("r1", "r2", "r4", "r5", "r6", "r7"), timeMs: fc.integer({ min: 0, max: 10_000_000 }), entities: fc.array(entity), tactics: fc.array(fc.string()) }),
      ),
      feedbackWeight: fc.oneof(fc.double(), fc.constant(undefined)),
    });
    fc.assert(
      fc.property(input, (i) => {
        const s = scoreAlert(i, DEFAULT_SCORE_WEIGHTS);
        expect(Number.isInteger(s.score)).toBe(true);
        expect(s.score).toBeGreaterThanOrEqual(0);
        expect(s.score).toBeLessThanOrEqual(100);
        expect(sum(s)).toBe(s.score);
      }),
      { numRuns: 2000 },
    );
  });
});
