import { describe, expect, it } from "vitest";
import { isSuppressed, validateSuppression, type AlertContext, type Suppression } from "../../src/noise/suppression";
import { escapeWildcards, wildcardMatcher } from "../../src/noise/field-match";

const ctx = (over: Partial<AlertContext> = {}): AlertContext => ({
  ruleId: "exec-from-tmp",
  agentTags: ["Server", "backup"],
  fields: { Image: "/tmp/backup-runner", User: "backup", SourceIp: "::ffff:10.20.30.40", AgentId: "host-1", Ports: ["22", "2222"] },
  ...over,
});

describe("wildcards", () => {
  it("supports *, ? and escapes, case-insensitively", () => {
    expect(wildcardMatcher("/tmp/*-runner")("/TMP/backup-runner")).toBe(true);
    expect(wildcardMatcher("file?.txt")("file1.txt")).toBe(true);
    expect(wildcardMatcher("file?.txt")("file12.txt")).toBe(false);
    expect(wildcardMatcher("a\\*b")("a*b")).toBe(true);
    expect(wildcardMatcher("a\\*b")("axxb")).toBe(false);
    expect(wildcardMatcher("(x)[y]+.$")("(x)[y]+.$")).toBe(true);
    const literal = "weird*name?\\";
    expect(wildcardMatcher(escapeWildcards(literal))(literal)).toBe(true);
    expect(wildcardMatcher(escapeWildcards(literal))("weirdXXname!\\")).toBe(false);
  });
});

describe("isSuppressed", () => {
  const byRuleAndImage: Suppression = { id: "s1", ruleId: "exec-from-*", fields: { Image: "/tmp/backup-*" }, reason: "nightly backup" };
  const byCidr: Suppression = { id: "s2", fields: { SourceIp: { cidr: "10.20.0.0/16" } }, agentTags: ["backup"], reason: "backup network" };
  const byList: Suppression = { id: "s3", ruleId: "ssh-*", fields: { Ports: ["2222", "8022"] }, reason: "alt ssh" };

  it("returns the suppression that matched", () => {
    expect(isSuppressed([byRuleAndImage], ctx(), 0)?.id).toBe("s1");
    expect(isSuppressed([byCidr], ctx({ ruleId: "anything" }), 0)?.id).toBe("s2");
    expect(isSuppressed([byList], ctx({ ruleId: "ssh-login" }), 0)?.id).toBe("s3");
  });

  it("requires every condition", () => {
    expect(isSuppressed([byRuleAndImage], ctx({ ruleId: "reverse-shell" }), 0)).toBeUndefined();
    expect(isSuppressed([byRuleAndImage], ctx({ fields: { Image: "/usr/bin/evil" } }), 0)).toBeUndefined();
    expect(isSuppressed([byRuleAndImage], ctx({ fields: {} }), 0)).toBeUndefined();
    expect(isSuppressed([byCidr], ctx({ agentTags: ["server"] }), 0)).toBeUndefined();
    expect(isSuppressed([byCidr], ctx({ fields: { SourceIp: "10.21.0.1" } }), 0)).toBeUndefined();
    expect(isSuppressed([byCidr], ctx({ fields: { SourceIp: "not-an-ip" } }), 0)).toBeUndefined();
  });

  it("stops matching at expiry", () => {
    const s: Suppression = { ...byRuleAndImage, expiresAtMs: 1000 };
    expect(isSuppressed([s], ctx(), 999)?.id).toBe("s1");
    expect(isSuppressed([s], ctx(), 1000)).toBeUndefined();
  });

  it("matches IPv6 CIDRs", () => {
    const s: Suppression = { id: "v6", fields: { SourceIp: { cidr: "2001:db8:1::/48" } }, reason: "lab" };
    expect(isSuppressed([s], ctx({ fields: { SourceIp: "2001:db8:1:ffff::9" } }), 0)?.id).toBe("v6");
    expect(isSuppressed([s], ctx({ fields: { SourceIp: "2001:db8:2::9" } }), 0)).toBeUndefined();
  });
});

describe("validateSuppression", () => {
  it("accepts a well-formed suppression", () => {
    expect(validateSuppression({ id: "a", ruleId: "r", fields: { SourceIp: [{ cidr: "10.0.0.0/8" }, "192.168.*"] }, reason: "lab" }).ok).toBe(true);
  });

  it("names every bad field", () => {
    const r = validateSuppression({ id: "", ruleId: 5, fields: { SourceIp: { cidr: "10.0.0.0/99" }, User: [], Image: 3 }, agentTags: "x", expiresAtMs: "soon" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.field)).toEqual(["id", "reason", "ruleId", "expiresAtMs", "agentTags", "fields.SourceIp", "fields.User", "fields.Image"]);
    expect(r.errors.find((e) => e.field === "fields.SourceIp")?.message).toMatch(/fields\.SourceIp: cidr prefix \/99 is longer than 32 bits/);
  });

  it("refuses a suppression that would silence everything", () => {
    const r = validateSuppression({ id: "x", reason: "quiet please" });
    expect(r).toEqual({ ok: false, errors: [{ field: "ruleId", message: "ruleId: a suppression needs at least one of ruleId, fields or agentTags" }] });
  });
});
