import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { applyFeedback, DEFAULT_FEEDBACK_CONFIG, feedbackWeight, suggestSuppression, type FeedbackWeights } from "../../src/noise/feedback";
import { isSuppressed, validateSuppression, type AlertContext } from "../../src/noise/suppression";
import type { EntityRef } from "../../src/scoring/entity";

const host: EntityRef = { kind: "host", id: "h1" };
const other: EntityRef = { kind: "host", id: "h2" };

describe("analyst feedback", () => {
  it("lowers the weight for that rule and entity on a false positive, and records it", () => {
    const w = applyFeedback({}, "r1", host, "false_positive", DEFAULT_FEEDBACK_CONFIG, 42);
    expect(feedbackWeight(w, "r1", host)).toBe(0.7);
    expect(feedbackWeight(w, "r1", other)).toBe(1);
    expect(feedbackWeight(w, "r2", host)).toBe(1);
    expect(w["r1|host:h1"]).toEqual({ weight: 0.7, truePositives: 0, falsePositives: 1, updatedAtMs: 42 });
  });

  it("does not change its input", () => {
    const before: FeedbackWeights = {};
    applyFeedback(before, "r1", host, "false_positive");
    expect(before).toEqual({});
  });

  it("a true positive undoes a false positive, then raises the weight", () => {
    let w = applyFeedback({}, "r1", host, "false_positive");
    w = applyFeedback(w, "r1", host, "true_positive");
    expect(feedbackWeight(w, "r1", host)).toBe(1);
    w = applyFeedback(w, "r1", host, "true_positive");
    expect(feedbackWeight(w, "r1", host)).toBe(1.1);
    expect(w["r1|host:h1"]).toMatchObject({ truePositives: 2, falsePositives: 1 });
  });

  it("stays within bounds however many verdicts", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("true_positive" as const, "false_positive" as const), { maxLength: 60 }), (verdicts) => {
        let w: FeedbackWeights = {};
        for (const v of verdicts) w = applyFeedback(w, "r", host, v);
        const x = feedbackWeight(w, "r", host);
        expect(x).toBeGreaterThanOrEqual(DEFAULT_FEEDBACK_CONFIG.min);
        expect(x).toBeLessThanOrEqual(DEFAULT_FEEDBACK_CONFIG.max);
      }),
    );
    let w: FeedbackWeights = {};
    for (let i = 0; i < 10; i++) w = applyFeedback(w, "r", host, "false_positive");
    expect(feedbackWeight(w, "r", host)).toBe(0.2);
    for (let i = 0; i < 20; i++) w = applyFeedback(w, "r", host, "true_positive");
    expect(feedbackWeight(w, "r", host)).toBe(1.5);
  });
});

describe("suggestSuppression", () => {
  const ctx: AlertContext = {
    ruleId: "exec-from-tmp",
    fields: { AgentId: "h1", User: "backup", Image: "/tmp/run*me", CommandLine: "/tmp/run*me --pid 4242", ProcessId: 4242 },
  };

  it("proposes a valid suppression on the rule and identifying fields, matched literally", () => {
    const d = suggestSuppression(ctx, { nowMs: 1000, ttlMs: 500, createdBy: "ana" });
    expect(d).toEqual({
      ruleId: "exec-from-tmp",
      fields: { AgentId: "h1", User: "backup", Image: "/tmp/run\\*me" },
      reason: "false positive of exec-from-tmp for AgentId=h1, User=backup, Image=/tmp/run*me",
      createdAtMs: 1000,
      expiresAtMs: 1500,
      createdBy: "ana",
    });
    const s = { id: "new", ...d };
    expect(validateSuppression(s).ok).toBe(true);
    expect(isSuppressed([s], ctx, 1200)?.id).toBe("new");
    // The literal '*' in the path must not act as a wildcard.
    expect(isSuppressed([s], { ...ctx, fields: { ...ctx.fields, Image: "/tmp/run-evil-me" } }, 1200)).toBeUndefined();
    expect(isSuppressed([s], ctx, 1500)).toBeUndefined();
  });

  it("warns when nothing identifies the activity", () => {
    const d = suggestSuppression({ ruleId: "r", fields: { CommandLine: "x" } });
    expect(d.fields).toBeUndefined();
    expect(d.reason).toMatch(/would suppress the rule everywhere/);
  });
});
