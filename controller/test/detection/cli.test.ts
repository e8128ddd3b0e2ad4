import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../src/database/data-source";

const ROOT = resolve(__dirname, "../../..");
const BIN = join(ROOT, "controller/bin/vigil-controller.js");
const run = (args: string[], cwd = ROOT) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env: { ...process.env, VIGIL_LOG_LEVEL: "error" } });

describe("vigil-controller rules / iocs", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("rules validate: the Linux sample compiles; a broken rule is listed and exits 1", () => {
    const ok = run(["rules", "validate", "detection/test/fixtures/sigmahq-linux"]);
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split("\n").at(-1)).toMatch(/^compiled \d+, refused 0$/);

    const rules = join(dir, "rules");
    mkdirSync(rules);
    writeFileSync(join(rules, "good.yml"), "title: Good\nlogsource: {product: linux}\ndetection:\n  sel: {Image: /bin/x}\n  condition: sel\nlevel: low\n");
    writeFileSync(join(rules, "bad.yml"), "title: Bad\nlogsource: {product: linux}\ndetection:\n  sel:\n    Image|nosuchmod: x\n  condition: sel\n");
    const bad = run(["rules", "validate", rules]);
    expect(bad.status).toBe(1);
    const lines = bad.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/bad\.yml:5: rule 'Bad'.*nosuchmod/);
    expect(lines[1]).toBe("compiled 1, refused 1");

    // A regex RE2 cannot run in linear time is refused with the line and the reason (issue #10).
    writeFileSync(join(rules, "bad.yml"), "title: Backref\nlogsource: {product: linux}\ndetection:\n  sel:\n    CommandLine|re: '(a+)\\1'\n  condition: sel\n");
    const re = run(["rules", "validate", rules]);
    expect(re.status).toBe(1);
    expect(re.stdout.trim().split("\n")[0]).toMatch(/bad\.yml:5: rule 'Backref' \[regex backreference\] backreferences need backtracking/);
  });

  it("rules validate: says for each correlation whether it fires early or at window close", () => {
    const rules = join(dir, "corr");
    mkdirSync(rules);
    writeFileSync(
      join(rules, "few.yml"),
      `title: Few
id: few
correlation:
  type: event_count
  rules: [base]
  group-by: [User]
  timespan: 1h
  condition: {lt: 3}
level: low
---
title: Base
name: base
logsource: {product: linux}
detection:
  sel: {Image: /bin/x}
  condition: sel
`,
    );
    const r = run(["rules", "validate", "detection/rules"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/lnx_ssh_brute_force\.yml: correlation 'SSH Brute Force From One Source' \(895fed99-f646-4f2c-90d6-cdcade3a6d70\) event_count: fires early/);
    const few = run(["rules", "validate", rules]);
    expect(few.stdout).toMatch(/few\.yml: correlation 'Few' \(few\) event_count: fires at window close/);
  });

  it("rules test: prints each match (correlations included) as a JSON line", () => {
    const events = join(dir, "events.jsonl");
    const t = Date.parse("2025-03-01T10:00:00Z");
    const lines = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({ logsource: { product: "linux", service: "sshd" }, AuthAction: "login_failure", SourceIp: "203.0.113.9", "@timestamp": new Date(t + i * 30_000).toISOString() }),
    );
    writeFileSync(events, [...lines, JSON.stringify({ Image: "/tmp/x", logsource: { product: "linux", category: "process_creation" } })].join("\n") + "\n");
    const r = run(["rules", "test", "--rules", "detection/rules", "--events", events]);
    expect(r.status).toBe(0);
    const out = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // detection/rules holds the SigmaHQ pack too (sigmahq-linux/); `rules test` runs the files as
    // written, without the controller's pack overrides, so SigmaHQ's own /tmp rule matches as well.
    expect(out.map((m) => m.title).sort()).toEqual(["Execution From Temporary Directory Or Deleted File", "Potentially Suspicious Execution From Tmp Folder", "SSH Brute Force From One Source"]);
    const bf = out.find((m) => m.ruleId === "895fed99-f646-4f2c-90d6-cdcade3a6d70");
    expect(bf.groupBy).toEqual({ SourceIp: "203.0.113.9" });
    expect(bf.events).toHaveLength(5);
  });

  it("iocs import writes CSV and STIX indicators to the database, naming refused lines", async () => {
    const db = join(dir, "vigil.db");
    const csv = join(dir, "iocs.csv");
    writeFileSync(csv, "type,value,confidence\nip,192.0.2.1,80\ndomain,evil.example,60\nsha256,nothex,50\n");
    const r = run(["iocs", "import", csv, "--source", "feed-a", "--database", `sqlite:${db}`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/imported 2, refused 1/);
    expect(r.stderr).toMatch(/line 4/);
    const stix = join(dir, "bundle.json");
    writeFileSync(
      stix,
      JSON.stringify({
        type: "bundle",
        id: "bundle--1",
        objects: [
          { type: "indicator", spec_version: "2.1", id: "indicator--a", pattern_type: "stix", pattern: "[ipv4-addr:value = '198.51.100.9']", valid_from: "2025-01-01T00:00:00Z", confidence: 70 },
        ],
      }),
    );
    expect(run(["iocs", "import", stix, "--database", `sqlite:${db}`]).stdout).toMatch(/imported 1, refused 0/);
    // A feed's plain list loads without a header; what Vigil cannot match is counted by kind.
    const list = join(dir, "blocklist.txt");
    writeFileSync(list, "# Example blocklist\n203.0.113.50\n; comment\nhxxp://bad.example/x\n");
    const l = run(["iocs", "import", list, "--source", "feed-b", "--database", `sqlite:${db}`]);
    expect(l.stdout).toMatch(/imported 1, refused 1 \(unsupported kinds: 1 url\)/);
    expect(run(["iocs", "import", list, "--format", "xml", "--database", `sqlite:${db}`]).stderr).toMatch(/--format must be auto, csv, list or stix/);
    const ds = createDataSource({ url: `sqlite:${db}` });
    await ds.initialize();
    const rows = (await ds.query("SELECT kind, value, source, confidence FROM iocs ORDER BY value")) as unknown[];
    await ds.destroy();
    expect(rows).toEqual([
      { kind: "ip", value: "192.0.2.1", source: "feed-a", confidence: 80 },
      { kind: "ip", value: "198.51.100.9", source: "stix", confidence: 70 },
      { kind: "ip", value: "203.0.113.50", source: "feed-b", confidence: 50 },
      { kind: "domain", value: "evil.example", source: "feed-a", confidence: 60 },
    ]);
  });
});
