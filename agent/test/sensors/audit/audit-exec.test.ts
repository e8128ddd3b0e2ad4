import { describe, expect, it } from "vitest";
import { ProcessAction } from "@vigil/proto";
import { AuditAssembler, auditExec, auditProcessStart, parseAuditLine, type AuditAssemblerOptions } from "../../../src/sensors/audit";
import type { AuditExec } from "../../../src/sensors/audit/audit-exec";

// Records auditd 3.0.9 wrote (ENRICHED format) for `sh -c` running /bin/echo with a spaced argument.
const G = "\u001d";
const LINES = [
  `type=SYSCALL msg=audit(1796303901.412:311): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=4242 pid=4243 auid=1000 uid=1000 gid=1000 euid=0 suid=0 fsuid=0 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="echo" exe="/usr/bin/echo" key="vigil-exec"${G}ARCH=x86_64 SYSCALL=execve AUID="alice" UID="alice"`,
  `type=EXECVE msg=audit(1796303901.412:311): argc=3 a0="/bin/echo" a1=68656C6C6F20776F726C64 a2="x"`,
  `type=CWD msg=audit(1796303901.412:311): cwd="/home/alice/src"`,
  `type=PATH msg=audit(1796303901.412:311): item=0 name="/bin/echo" inode=1 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
  `type=PROCTITLE msg=audit(1796303901.412:311): proctitle=2F62696E2F6563686F0068656C6C6F20776F726C640078`,
  `type=EOE msg=audit(1796303901.412:311): `,
];

function assemble(lines: string[], opts: AuditAssemblerOptions = {}) {
  const out: ReturnType<typeof auditExec>[] = [];
  const a = new AuditAssembler(opts, (event) => out.push(auditExec(event)));
  for (const l of lines) a.push(parseAuditLine(l)!);
  a.flushAll();
  return out;
}

describe("auditExec: one exec out of the records of one serial", () => {
  it("takes pid, parent, users, exe, argv (hex-decoded) and cwd from SYSCALL, EXECVE and CWD", () => {
    expect(assemble(LINES)).toEqual([
      { pid: 4243, ppid: 4242, uid: 1000, euid: 0, exe: "/usr/bin/echo", argv: ["/bin/echo", "hello world", "x"], cwd: "/home/alice/src", comm: "echo", vigilRule: true },
    ]);
  });

  it("falls back to PROCTITLE when the host's audit_types left EXECVE out", () => {
    const [e] = assemble(LINES, { keepTypes: ["SYSCALL", "PROCTITLE"] });
    expect(e?.argv).toEqual(["/bin/echo hello world x"]);
    expect(e?.cwd).toBe("");
  });

  it("ignores failed execs, other syscalls and malformed numbers", () => {
    const failed = LINES.map((l) => l.replace("success=yes", "success=no"));
    const open = LINES.map((l) => l.replace("syscall=59", "syscall=2"));
    const badPid = LINES.map((l) => l.replace("pid=4243", "pid=-1"));
    expect(assemble(failed)).toEqual([null]);
    expect(assemble(open)).toEqual([null]);
    expect(assemble(badPid)).toEqual([null]);
  });

  it("bounds argv by argc and by what the record holds", () => {
    const lying = LINES.map((l) => l.replace("argc=3", "argc=99999"));
    expect(assemble(lying)[0]?.argv).toEqual(["/bin/echo", "hello world", "x"]);
  });

  it("builds the START event in the eBPF sensor's shape, secrets redacted", () => {
    const e: AuditExec = { pid: 9, ppid: 1, uid: 0, euid: 0, exe: "/usr/bin/curl", argv: ["curl", "-H", `x: vk_fedcba9876543210_${"F".repeat(43)}`], cwd: "/", comm: "curl", vigilRule: true };
    const body = auditProcessStart(e, { user: "root", startTimeMs: 5, parentExe: "/bin/sh", parentCommandLine: "sh", sha256: "ab" });
    expect(body).toMatchObject({ action: ProcessAction.PROCESS_ACTION_START, pid: 9, ppid: 1, exe: "/usr/bin/curl", user: "root", cwd: "/", parentExe: "/bin/sh", source: "audit", name: "curl" });
    expect(body.commandLine).not.toContain("FFFF");
  });
});
