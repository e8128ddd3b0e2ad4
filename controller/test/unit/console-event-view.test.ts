import { describe, expect, it } from "vitest";
import type { TelemetryEvent } from "../../console/src/api/types";
import { fieldsOf, labelOf, summaryOf, userOf } from "../../console/src/lib/event-view";

// The console's event wording (lib/event-view.ts) on events shaped as GET /api/v1/events returns them.
function ev(type: string, action: string, body: Record<string, unknown>): TelemetryEvent {
  return { id: "1", agentId: "web-1", seq: 7, type, action, eventTime: "2026-12-03T12:00:00.000Z", receivedAt: "2026-12-03T12:00:01.000Z", [type]: { action, ...body } };
}

describe("console event view", () => {
  it("summarises each kind by what an analyst scans for", () => {
    expect(summaryOf(ev("process", "start", { exe: "/usr/bin/curl", commandLine: "curl -s http://x/y.sh", user: "www" }))).toBe("curl -s http://x/y.sh");
    expect(summaryOf(ev("process", "start", { exe: "/usr/bin/true" }))).toBe("/usr/bin/true");
    expect(summaryOf(ev("file", "rename", { path: "/etc/shadow", oldPath: "/tmp/s" }))).toBe("/tmp/s → /etc/shadow");
    expect(
      summaryOf(ev("network", "connect", { protocol: "tcp", direction: "outbound", localAddress: "10.0.0.5", localPort: 51000, remoteAddress: "192.0.2.9", remotePort: 443, exe: "/usr/bin/curl" })),
    ).toBe("tcp 10.0.0.5:51000 → 192.0.2.9:443 (/usr/bin/curl)");
    expect(summaryOf(ev("network", "open", { protocol: "tcp", direction: "inbound", localAddress: "10.0.0.5", localPort: 22, remoteAddress: "198.51.100.7", remotePort: 40000 }))).toBe(
      "tcp 198.51.100.7:40000 → 10.0.0.5:22",
    );
    expect(summaryOf(ev("auth", "login_failure", { user: "root", sourceIp: "203.0.113.5", sourcePort: 4000, service: "sshd" }))).toBe("root from 203.0.113.5:4000 via sshd");
    expect(summaryOf(ev("auth", "sudo", { user: "alice", targetUser: "root", service: "sudo", command: "/bin/sh" }))).toBe("alice → root via sudo: /bin/sh");
    expect(summaryOf(ev("log", "cron", { program: "CRON", message: "session opened" }))).toBe("CRON: session opened");
    expect(summaryOf(ev("audit", "syscall", { recordType: "SYSCALL", fields: { exe: "/usr/bin/id", proctitle: "id -u" } }))).toBe("SYSCALL /usr/bin/id id -u");
    expect(userOf(ev("audit", "syscall", { fields: { auid: "1000" } }))).toBe("1000");
    expect(userOf(ev("process", "start", { user: "www" }))).toBe("www");
  });

  it("labels every field in wire order, keeps free-form map keys as written, and names an audit event's other records", () => {
    const fields = fieldsOf(
      ev("audit", "execve", {
        recordType: "EXECVE",
        serial: 912,
        fields: { a0: "curl", name: "/usr/bin/curl" },
        records: [{ recordType: "PATH", fields: { name: "/usr/bin/curl" }, raw: "type=PATH msg=audit(1.2:912): name=/usr/bin/curl" }],
      }),
    );
    expect(fields.map((f) => [f.label, f.value])).toEqual([
      ["Action", "execve"],
      ["Record type", "EXECVE"],
      ["Serial", "912"],
      ["Fields › a0", "curl"],
      ["Fields › name", "/usr/bin/curl"],
      ["Record 2 (PATH) › Record type", "PATH"],
      ["Record 2 (PATH) › Fields › name", "/usr/bin/curl"],
      ["Record 2 (PATH) › Record", "type=PATH msg=audit(1.2:912): name=/usr/bin/curl"],
    ]);
    expect(fields.find((f) => f.key === "records.0.raw")?.long).toBe(true);
  });

  it("shows times, modes and flags as words, and unknown fields by their split name", () => {
    const f = fieldsOf(ev("file", "chmod", { path: "/etc/cron.d/x", mode: 0o100644, mtimeMs: Date.UTC(2026, 11, 3, 12), exeDeleted: true, newFieldFromAnAgent: 3 }));
    const by = (k: string) => f.find((x) => x.key === k);
    expect(by("mode")?.value).toBe("0100644");
    expect(by("mtimeMs")).toMatchObject({ label: "Modified", value: "2026-12-03T12:00:00.000Z" });
    expect(by("exeDeleted")).toMatchObject({ label: "Deleted executable", value: "yes" });
    expect(by("newFieldFromAnAgent")?.label).toBe("New field from an agent");
    expect(labelOf("commandLine")).toBe("Command line");
    // The same words as the case timeline: an auth event's raw field is its log line.
    expect(labelOf("raw", "auth")).toBe("Log line");
    expect(labelOf("raw", "audit")).toBe("Record");
  });

  it("bounds the fields of a huge event", () => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < 500; i++) fields[`k${i}`] = "v";
    expect(fieldsOf(ev("agent", "x", { kind: "x", attributes: fields })).length).toBe(120);
  });
});
