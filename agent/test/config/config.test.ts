import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AgentConfigError, loadAgentConfig } from "../../src/config/config";

function yamlFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), "vigil-cfg-")), "agent.yaml");
  writeFileSync(f, text);
  return f;
}

describe("agent config: flags > VIGIL_* environment > YAML file > defaults", () => {
  it("has defaults an admin expects", () => {
    const c = loadAgentConfig({}, {});
    expect(c.controller).toBe("127.0.0.1:50051");
    expect(c.watch).toContain("/etc");
    expect(c.processIntervalMs).toBe(1000);
    expect(c.spoolMaxBytes).toBe(1024 ** 3);
  });

  it("applies file, then environment, then flags", () => {
    const file = yamlFile("controller: file.example:1\nwatch: [/a, /b]\nauth_log: /file/auth.log\ntags: [web]\nspool_fsync: always\n");
    const env = { VIGIL_CONTROLLER: "env.example:2", VIGIL_AUTH_LOG: "/env/auth.log", VIGIL_TAGS: "db,critical" };
    const c = loadAgentConfig({ config: file, controller: "flag.example:3" }, env);
    expect(c.controller).toBe("flag.example:3");
    expect(c.authLog).toBe("/env/auth.log");
    expect(c.tags).toEqual(["db", "critical"]);
    expect(c.watch).toEqual(["/a", "/b"]);
    expect(c.spoolFsync).toBe("always");
    const viaEnvFile = loadAgentConfig({}, { VIGIL_CONFIG: file });
    expect(viaEnvFile.controller).toBe("file.example:1");
  });

  it("repeatable --watch flags replace the configured paths", () => {
    const c = loadAgentConfig({ watch: ["/x", "/y"] }, { VIGIL_WATCH: "/e1,/e2" });
    expect(c.watch).toEqual(["/x", "/y"]);
    expect(loadAgentConfig({}, { VIGIL_WATCH: "/e1,/e2" }).watch).toEqual(["/e1", "/e2"]);
  });

  it.each([
    ["controller: nohostport\n", /controller: expected HOST:PORT/],
    ["spool_fsync: sometimes\n", /spool_fsync: expected one of always, interval, never/],
    ["process_interval_ms: 5\n", /process_interval_ms: expected an integer between 100/],
    ["colour: blue\n", /colour: unknown setting/],
    ["- just\n- a list\n", /expected a YAML map/],
    ["controller: [unclosed\n", /config file .*agent\.yaml/],
    ["sensors: { process: maybe }\n", /sensors\.process: unknown sensor or not a boolean/],
  ])("refuses a broken file with a clear error: %s", (text, message) => {
    expect(() => loadAgentConfig({ config: yamlFile(text) }, {})).toThrow(AgentConfigError);
    expect(() => loadAgentConfig({ config: yamlFile(text) }, {})).toThrow(message);
  });

  it("names the environment variable's setting when it is wrong", () => {
    expect(() => loadAgentConfig({}, { VIGIL_SPOOL_MAX_BYTES: "lots" })).toThrow(/environment: spool_max_bytes/);
  });
});

describe("isolation exceptions", () => {
  it("DNS resolvers and DHCP stay closed unless configured", () => {
    const d = loadAgentConfig({}, {});
    expect(d.isolationDns).toEqual([]);
    expect(d.isolationDhcp).toBe(false);
    const c = loadAgentConfig({}, { VIGIL_ISOLATION_DNS: "10.0.0.2,10.0.0.3", VIGIL_ISOLATION_DHCP: "true" });
    expect(c.isolationDns).toEqual(["10.0.0.2", "10.0.0.3"]);
    expect(c.isolationDhcp).toBe(true);
    expect(() => loadAgentConfig({}, { VIGIL_ISOLATION_DHCP: "maybe" })).toThrow(/isolation_dhcp: expected true or false/);
  });

  it("takes extra collect_evidence deny paths, absolute only", () => {
    expect(loadAgentConfig({}, {}).evidenceDeny).toEqual([]);
    expect(loadAgentConfig({}, { VIGIL_EVIDENCE_DENY: "/srv/vigil-data,/opt/secrets/" }).evidenceDeny).toEqual(["/srv/vigil-data", "/opt/secrets"]);
    const file = yamlFile("evidence_deny: [/srv/x/../y]\n");
    expect(loadAgentConfig({ config: file }, {}).evidenceDeny).toEqual(["/srv/y", file]);
    expect(() => loadAgentConfig({ config: yamlFile("evidence_deny: [data]\n") }, {})).toThrow(AgentConfigError);
  });
});
