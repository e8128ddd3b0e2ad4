import { appendFileSync, chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LogEvent } from "@vigil/proto";
import { compileRules, DetectionEngine, toSigmaEvent } from "@vigil/detection";
import { DEFAULT_SYSLOGS, parseSyslogLine, SyslogSensor } from "../../../src/sensors/syslog";
import type { EventBody, EventSink } from "../../../src/sensors/sensor";
import { tempDir, waitFor } from "../auth/helpers";

class Collect implements EventSink {
  readonly logs: { log: LogEvent; timeMs: number }[] = [];
  emit(body: EventBody, timeMs: number): void {
    if (body.$case === "log") this.logs.push({ log: body.log, timeMs });
  }
}

let dir: string;
let cleanup: () => void;
const sensors: SyslogSensor[] = [];
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  for (const s of sensors.splice(0)) await s.stop();
  cleanup();
});

const NOW = new Date(2024, 4, 10, 12, 0, 0);

// Rules in the shape public Linux rule sets give them: keywords, routed by service.
const RULES = `title: Security Tool Stopped
id: 1a2b3c4d-0000-4000-8000-000000000001
logsource: {product: linux, service: syslog}
detection:
    keywords: ['stopping iptables', 'stopping ip6tables', 'stopping firewalld']
    condition: keywords
level: medium
---
title: Cron Table Replaced
id: 1a2b3c4d-0000-4000-8000-000000000002
logsource: {product: linux, service: cron}
detection:
    keywords: ['REPLACE']
    condition: keywords
level: medium
---
title: Vsftpd Error
id: 1a2b3c4d-0000-4000-8000-000000000003
logsource: {product: linux, service: vsftpd}
detection:
    keywords: ['Connection refused: too many sessions for this address.']
    condition: keywords
level: low
`;

describe("system log sensor", () => {
  it("redacts a Vigil API key from message and raw", () => {
    const p = parseSyslogLine(`May  5 10:00:01 web1 CRON[1234]: (root) CMD (curl -H 'Authorization: Bearer vk_0123456789abcdef_${"K".repeat(43)}' x)`, "syslog", NOW)!;
    expect(p.log.message).toContain("Bearer vk_0123456789abcdef_[REDACTED]'");
    expect(p.log.raw).toContain("vk_0123456789abcdef_[REDACTED]");
    expect(JSON.stringify(p)).not.toContain("KKKK");
  });

  it("parses program, pid, host and message; lines without a syslog header are not events", () => {
    const p = parseSyslogLine("May  5 10:00:01 web1 CRON[1234]: (root) REPLACE (root)", "syslog", NOW)!;
    expect(p.log).toEqual({ log: "syslog", program: "CRON", pid: 1234, hostname: "web1", message: "(root) REPLACE (root)", raw: "May  5 10:00:01 web1 CRON[1234]: (root) REPLACE (root)" });
    expect(p.timeMs).toBe(new Date(2024, 4, 5, 10, 0, 1).getTime());
    expect(parseSyslogLine("    at Object.<anonymous> (x.js:1:1)", "syslog", NOW)).toBeNull();
  });

  it("follows the file; rules by service see their daemon's lines, service: syslog sees every line", async () => {
    const log = path.join(dir, "syslog");
    writeFileSync(log, "");
    const sink = new Collect();
    const sensor = new SyslogSensor({ path: log, stateDir: path.join(dir, "state"), pollMs: 15, now: () => NOW });
    sensors.push(sensor);
    await sensor.start(sink);
    appendFileSync(
      log,
      [
        "May  5 10:00:01 web1 CRON[1234]: (root) REPLACE (root)",
        "May  5 10:00:02 web1 vsftpd[88]: Connection refused: too many sessions for this address.",
        "May  5 10:00:03 web1 systemd[1]: Stopping firewalld - dynamic firewall daemon...",
        "May  5 10:00:04 web1 kernel: [  12.345] eth0: link up",
      ]
        .map((l) => `${l}\n`)
        .join(""),
    );
    await waitFor(() => sink.logs.length >= 4, "4 log events");
    expect(sink.logs.map((l) => l.log.program)).toEqual(["CRON", "vsftpd", "systemd", "kernel"]);
    expect(sensor.health()).toMatchObject({ name: "syslog", running: true, events: 4, errors: 0, detail: `reading ${log} (every line)` });

    const { ruleset, errors } = compileRules([{ name: "r.yml", text: RULES }]);
    expect(errors).toEqual([]);
    const engine = new DetectionEngine(ruleset);
    const titles = sink.logs.map((l, i) =>
      engine.process(toSigmaEvent({ seq: i + 1, eventTimeMs: l.timeMs, body: { $case: "log", log: l.log } }, { agentId: "a", hostname: "web1" })!).map((m) => m.rule.title),
    );
    expect(titles).toEqual([["Cron Table Replaced"], ["Vsftpd Error"], ["Security Tool Stopped"], []]);
  });

  it("a host without a system log file idles and says so", async () => {
    const missing = [path.join(dir, "syslog"), path.join(dir, "messages")];
    const sensor = new SyslogSensor({ candidates: missing, stateDir: path.join(dir, "state") });
    sensors.push(sensor);
    await sensor.start(new Collect());
    expect(sensor.health()).toMatchObject({ running: true, errors: 0, detail: `no system log file (${missing.join(", ")}); the journal is not followed` });
    // The first candidate that exists is the one followed.
    writeFileSync(missing[1]!, "");
    const second = new SyslogSensor({ candidates: missing, stateDir: path.join(dir, "state2"), pollMs: 15, now: () => NOW });
    sensors.push(second);
    const sink = new Collect();
    await second.start(sink);
    appendFileSync(missing[1]!, "May  5 10:00:01 h sshd[1]: Server listening on 0.0.0.0 port 22.\n");
    await waitFor(() => sink.logs.length === 1, "a line of the second candidate");
    expect(DEFAULT_SYSLOGS).toEqual(["/var/log/syslog", "/var/log/messages"]);
  });

  it("with system_log: journal, follows the whole journal, leaving out what the auth sensor reports", async () => {
    // journalctl here cannot be pointed at test entries: a stand-in script plays it and records its arguments.
    const argsFile = path.join(dir, "args");
    const entry = (cursor: string, ident: string, msg: string) =>
      JSON.stringify({ __CURSOR: cursor, __REALTIME_TIMESTAMP: "1714557600123456", _HOSTNAME: "j1", SYSLOG_IDENTIFIER: ident, _PID: "77", MESSAGE: msg });
    const entries = path.join(dir, "entries.json");
    writeFileSync(entries, [entry("c1", "sshd", "Accepted publickey for a from 192.0.2.1 port 1 ssh2"), entry("c2", "CRON", "(root) REPLACE (root)"), "{garbage"].join("\n") + "\n");
    const command = path.join(dir, "journalctl");
    writeFileSync(command, `#!/bin/sh\necho "$*" >> '${argsFile}'\ncat '${entries}'\nexec sleep 30\n`);
    chmodSync(command, 0o755);
    const sink = new Collect();
    const sensor = new SyslogSensor({ path: "journal", exclude: ["sshd"], journalctl: command, stateDir: path.join(dir, "state") });
    sensors.push(sensor);
    await sensor.start(sink);
    // The excluded sshd entry comes first in the stream, so by the time CRON's arrives it was already passed over.
    await waitFor(() => sink.logs.length >= 1, "a journal entry");
    expect(sink.logs).toEqual([{ timeMs: 1714557600123, log: expect.objectContaining({ log: "journal", program: "CRON", pid: 77, hostname: "j1", message: "(root) REPLACE (root)" }) }]);
    expect(readFileSync(argsFile, "utf8").trim()).toBe("-f -o json --no-pager -n 0");
  });
});
