import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { AgentConfigError, SETTINGS, loadAgentConfig } from "../../src/config/config";
import { flagName, parseSettingFlags } from "../../src/config/flags";
import { main } from "../../src/main";

const dir = mkdtempSync(join(tmpdir(), "vigil-flags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two valid values per setting (file, flag) and what the flag's value becomes. A new setting without a row fails the first test. */
const SAMPLES: Record<string, { file: unknown; flag: string; expect: unknown }> = {
  controller: { file: "file.example:1", flag: "flag.example:2", expect: "flag.example:2" },
  state_dir: { file: "/tmp/file-state", flag: "/tmp/flag-state", expect: "/tmp/flag-state" },
  tags: { file: ["f"], flag: "a,b", expect: ["a", "b"] },
  log_level: { file: "warn", flag: "debug", expect: "debug" },
  enforcement: { file: "enforce", flag: "monitor", expect: "monitor" },
  kernel_sensor: { file: "auto", flag: "audit", expect: "audit" },
  audit_socket: { file: "/tmp/file.sock", flag: "/tmp/flag.sock", expect: "/tmp/flag.sock" },
  ebpf_helper: { file: "/tmp/file-helper", flag: "/tmp/flag-helper", expect: "/tmp/flag-helper" },
  sensors: { file: { audit: true }, flag: "audit=false,syslog=off", expect: { process: true, network: true, file: true, auth: true, audit: false, syslog: false, dns: true } },
  watch: { file: ["/file"], flag: "/flag1,/flag2", expect: ["/flag1", "/flag2"] },
  auth_log: { file: "/file/auth", flag: "/flag/auth", expect: "/flag/auth" },
  audit_log: { file: "/file/audit", flag: "/flag/audit", expect: "/flag/audit" },
  audit_types: { file: ["SYSCALL"], flag: "syscall,execve", expect: ["SYSCALL", "EXECVE"] },
  audit_max_events_per_sec: { file: 100, flag: "500", expect: 500 },
  dns_max_events_per_sec: { file: 100, flag: "50", expect: 50 },
  system_log: { file: "/file/syslog", flag: "journal", expect: "journal" },
  process_interval_ms: { file: 5000, flag: "700", expect: 700 },
  network_interval_ms: { file: 5000, flag: "900", expect: 900 },
  heartbeat_ms: { file: 5000, flag: "1000", expect: 1000 },
  spool_max_bytes: { file: 1 << 21, flag: String(1 << 22), expect: 1 << 22 },
  spool_fsync: { file: "always", flag: "never", expect: "never" },
  spool_fsync_interval_ms: { file: 100, flag: "50", expect: 50 },
  spool_full_policy: { file: "block", flag: "drop_newest", expect: "drop_newest" },
  isolation_allow: { file: ["10.0.0.0/8"], flag: "192.0.2.0/24", expect: ["192.0.2.0/24"] },
  isolation_dns: { file: ["10.0.0.2"], flag: "10.0.0.3,10.0.0.4", expect: ["10.0.0.3", "10.0.0.4"] },
  isolation_dhcp: { file: false, flag: "true", expect: true },
  // The config file itself is always protected too.
  evidence_deny: { file: ["/file/deny"], flag: "/flag/a,/flag/b/", expect: ["/flag/a", "/flag/b", join(dir, "evidence_deny.yaml")] },
  policy_event_budget_ms: { file: 50, flag: "250", expect: 250 },
  backoff_max_ms: { file: 1000, flag: "2000", expect: 2000 },
  fatal_backoff_ms: { file: 60000, flag: "120000", expect: 120_000 },
  on_fatal: { file: "backoff", flag: "exit", expect: "exit" },
  watchdog_max_rss_mb: { file: 200, flag: "400", expect: 400 },
  watchdog_max_cpu_percent: { file: 20, flag: "80", expect: 80 },
  watchdog_window_ms: { file: 10000, flag: "30000", expect: 30_000 },
  synthetic_rate: { file: 1, flag: "5", expect: 5 },
  synthetic_count: { file: 1, flag: "9", expect: 9 },
  synthetic_mix: { file: "agent", flag: "process:8,auth:1", expect: "process:8,auth:1" },
};

describe("every config-file key is a flag (generated from the settings table)", () => {
  it("each setting, given in the file and as a flag: the flag wins", () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(SETTINGS.map((s) => s.key).sort());
    for (const s of SETTINGS) {
      const sample = SAMPLES[s.key]!;
      const file = join(dir, `${s.key}.yaml`);
      writeFileSync(file, stringify({ [s.key]: sample.file }));
      const fromFile = loadAgentConfig({ config: file }, {});
      const flags = parseSettingFlags(["--config", file, `--${flagName(s)}`, sample.flag]);
      const cfg = loadAgentConfig(flags, {});
      expect(cfg[s.field], s.key).toEqual(sample.expect);
      expect(fromFile[s.field], s.key).not.toEqual(sample.expect);
    }
  });

  it("the flags from the issue parse, list flags repeat, --tag still works, bad values name the flag", () => {
    const cfg = loadAgentConfig(parseSettingFlags(["--enforcement", "monitor", "--kernel-sensor", "proc", "--spool-max-bytes", "2097152", "--watch", "/a", "--watch", "/b,/c", "--tag", "x"]), {});
    expect(cfg).toMatchObject({ enforcement: "monitor", kernelSensor: "proc", spoolMaxBytes: 2097152, watch: ["/a", "/b", "/c"], tags: ["x"] });
    expect(() => loadAgentConfig(parseSettingFlags(["--enforcement", "sometimes"]), {})).toThrow(/flag: enforcement: expected one of enforce, monitor/);
    expect(() => loadAgentConfig(parseSettingFlags(["--sensors", "audit=maybe"]), {})).toThrow(AgentConfigError);
    expect(() => parseSettingFlags(["--no-such-flag", "1"])).toThrow(/Unknown option '--no-such-flag'/);
  });
});

describe("each command prints its own help", () => {
  async function help(args: string[]): Promise<{ code: number; out: string }> {
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
    try {
      return { code: await main(args), out };
    } finally {
      spy.mockRestore();
    }
  }

  it.each([
    ["run", ["--enforcement MODE", "--spool-max-bytes BYTES", "--kernel-sensor MODE", "--sensors NAME=BOOL"]],
    ["enroll", ["--token-file FILE", "--ca-pin SHA256"]],
    ["reapply", ["--state-dir DIR"]],
    ["parse", ["--audit-log FILE", "--now ISO-TIME"]],
    ["inventory", ["--reason TEXT"]],
  ])("vigil-agent %s --help", async (cmd, wanted) => {
    const { code, out } = await help([cmd, "--help"]);
    expect(code).toBe(0);
    expect(out).toContain(`Usage: vigil-agent ${cmd}`);
    for (const w of wanted) expect(out).toContain(w);
    // Not the global help: no command list.
    expect(out).not.toContain("Commands:");
  });

  it("run --help lists every setting's flag", async () => {
    const { out } = await help(["run", "--help"]);
    for (const s of SETTINGS) expect(out).toContain(`--${flagName(s)} `);
  });

  it("the global help still lists the commands (install.sh looks for '  enroll')", async () => {
    const { out } = await help(["--help"]);
    expect(out).toMatch(/^ {2}enroll\b/m);
    expect(out).toContain("Commands:");
  });
});
