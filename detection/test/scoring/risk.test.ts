import { describe, expect, it } from "vitest";
import { DEFAULT_RISK_CONFIG, decayFactor, raiseRisk, rankByRisk, riskAt } from "../../src/scoring/risk";
import type { EntityRef } from "../../src/scoring/entity";

const H = 3_600_000;
const host: EntityRef = { kind: "host", id: "a" };

describe("entity risk", () => {
  it("halves every half-life", () => {
    const r = raiseRisk(undefined, host, 80, 0);
    expect(riskAt(r, 0)).toBe(80);
    expect(riskAt(r, 24 * H)).toBeCloseTo(40, 10);
    expect(riskAt(r, 48 * H)).toBeCloseTo(20, 10);
    expect(riskAt(r, 12 * H)).toBeCloseTo(80 / Math.SQRT2, 10);
    expect(riskAt(r, 1 * H, { ...DEFAULT_RISK_CONFIG, halfLifeMs: H })).toBeCloseTo(40, 10);
    expect(riskAt(undefined, 0)).toBe(0);
  });

  it("does not decay backwards in time", () => {
    expect(decayFactor(-5 * H, 24 * H)).toBe(1);
    expect(riskAt(raiseRisk(undefined, host, 50, 10 * H), 0)).toBe(50);
  });

  it("adds alert scores to the decayed risk, capped", () => {
    let r = raiseRisk(undefined, host, 40, 0);
    r = raiseRisk(r, host, 30, 24 * H); // 20 + 30
    expect(r.score).toBeCloseTo(50, 10);
    expect(r.updatedAtMs).toBe(24 * H);
    r = raiseRisk(r, host, 90, 24 * H);
    expect(r.score).toBe(100);
  });

  it("decays a late alert to the last update instead of moving time back", () => {
    const r = raiseRisk(raiseRisk(undefined, host, 10, 48 * H), host, 40, 24 * H);
    expect(r.updatedAtMs).toBe(48 * H);
    expect(r.score).toBeCloseTo(30, 10);
    // Same as if it had arrived in order.
    const inOrder = raiseRisk(raiseRisk(undefined, host, 40, 24 * H), host, 10, 48 * H);
    expect(inOrder.score).toBeCloseTo(r.score, 10);
  });

  it("ranks entities by current risk", () => {
    const old = raiseRisk(undefined, { kind: "user", id: "old" }, 90, 0);
    const fresh = raiseRisk(undefined, { kind: "user", id: "fresh" }, 50, 72 * H);
    expect(rankByRisk([old, fresh], 72 * H).map((x) => x.entity.id)).toEqual(["fresh", "old"]);
  });
});
