import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { compileRules, DetectionEngine, toSigmaEvent } from "@vigil/detection";
import { parseAuditLine } from "../../../src/sensors/audit";

const FIX = path.join(__dirname, "..", "..", "fixtures");

describe("public auditd rules on a real audit log", () => {
  it("SigmaHQ's auditd rules compile and fire on the records auditd wrote for the commands they describe", () => {
    const dir = path.join(FIX, "sigma-auditd");
    const rules = readdirSync(dir).filter((f) => f.endsWith(".yml")).map((f) => ({ name: f, text: readFileSync(path.join(dir, f), "utf8") }));
    const { ruleset, errors } = compileRules(rules);
    expect(errors).toEqual([]);
    const engine = new DetectionEngine(ruleset);
    const lines = readFileSync(path.join(FIX, "auditd", "debian12-auditd-3.0.9.log"), "utf8").split("\n").filter(Boolean);
    const hits: Record<string, string[]> = {};
    let seq = 0;
    for (const line of lines) {
      const p = parseAuditLine(line);
      expect(p, line).not.toBeNull();
      for (const m of engine.process(toSigmaEvent({ seq: ++seq, eventTimeMs: p!.timeMs, body: { $case: "audit", audit: p!.audit } }, { agentId: "a", hostname: "h" })!)) {
        const { recordType: t, fields: f } = p!.audit;
        (hits[m.rule.title] ??= []).push(`${t} ${(t === "EXECVE" ? f.a0 : t === "PATH" ? f.name : f.exe) ?? ""}`.trim());
      }
    }
    expect(seq).toBe(lines.length);
    expect(hits["Remove Immutable File Attribute - Auditd"]).toEqual(["EXECVE chattr"]);
    expect(hits["System Owner or User Discovery - Linux"]).toEqual(["EXECVE whoami", "EXECVE id"]);
    expect(hits["Modification of ld.so.preload"]?.every((h) => h === "PATH /etc/ld.so.preload")).toBe(true);
    expect(hits["Creation Of An User Account"]).toContain("ADD_USER /usr/sbin/useradd");
    expect(hits["Creation Of An User Account"]?.some((h) => h === "SYSCALL /usr/sbin/useradd")).toBe(true);
  });
});
