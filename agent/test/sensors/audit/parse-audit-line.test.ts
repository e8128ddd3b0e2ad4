import { describe, expect, it } from "vitest";
import { AUDIT_LIMITS, parseAuditLine } from "../../../src/sensors/audit";

// Records as auditd 3.0 (Debian 12) wrote them on this machine for `vigil-probe "hello world" 'quo"te' plain`,
// with log_format = ENRICHED (the interpreted fields follow a 0x1d byte).
const GS = "\u001d";
const SYSCALL = `type=SYSCALL msg=audit(1795805335.176:1161): arch=c000003e syscall=59 success=yes exit=0 a0=55f369ef4f40 a1=55f369ee1140 a2=55f369eed100 a3=f1855e5678d14637 items=2 ppid=5060 pid=5068 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="vigil-probe" exe="/tmp/ap/vigil-probe" key="vigil-probe-x"${GS}ARCH=x86_64 SYSCALL=execve AUID="unset" UID="root" GID="root"`;
const EXECVE = 'type=EXECVE msg=audit(1795805335.176:1161): argc=4 a0="/tmp/ap/vigil-probe" a1=68656C6C6F20776F726C64 a2=71756F227465 a3="plain"';
const PROCTITLE = "type=PROCTITLE msg=audit(1795805335.176:1161): proctitle=2F746D702F61702F766967696C2D70726F62650068656C6C6F20776F726C640071756F22746500706C61696E";
const PATH = `type=PATH msg=audit(1795805335.176:1161): item=0 name="/tmp/ap/vigil-probe" inode=2187550 dev=fe:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0${GS}OUID="root" OGID="root"`;

describe("parseAuditLine", () => {
  it("EXECVE: quoted args as written, hex-encoded args (spaces, quotes) decoded", () => {
    const p = parseAuditLine(EXECVE)!;
    expect(p.timeMs).toBe(1795805335176);
    expect(p.audit).toMatchObject({ recordType: "EXECVE", serial: 1161, raw: EXECVE });
    expect(p.audit.fields).toEqual({ argc: "4", a0: "/tmp/ap/vigil-probe", a1: "hello world", a2: 'quo"te', a3: "plain" });
  });

  it("SYSCALL: syscall arguments stay hex numbers; enriched fields come too", () => {
    const f = parseAuditLine(SYSCALL)!.audit.fields;
    expect(f).toMatchObject({ syscall: "59", a0: "55f369ef4f40", comm: "vigil-probe", exe: "/tmp/ap/vigil-probe", key: "vigil-probe-x", tty: "(none)", SYSCALL: "execve", UID: "root", AUID: "unset" });
  });

  it("PROCTITLE: NUL-separated argv becomes a command line; PATH keeps its fields", () => {
    expect(parseAuditLine(PROCTITLE)!.audit.fields.proctitle).toBe('/tmp/ap/vigil-probe hello world quo"te plain');
    expect(parseAuditLine(PATH)!.audit.fields).toMatchObject({ item: "0", name: "/tmp/ap/vigil-probe", nametype: "NORMAL", OUID: "root" });
  });

  it("an argument split over records (a2[0], a2[1]) is joined; hex pieces decoded", () => {
    const line = 'type=EXECVE msg=audit(1700000000.001:9): argc=3 a0="sh" a1="-c" a2_len=12 a2[0]=6563686F20 a2[1]="ok; id"';
    expect(parseAuditLine(line)!.audit.fields).toMatchObject({ a0: "sh", a1: "-c", a2: "echo ok; id", a2_len: "12" });
  });

  it("user-space records: the nested msg='...' list is flattened; a node= prefix is kept", () => {
    const line = 'node=web1 type=USER_CMD msg=audit(1700000000.500:77): pid=900 uid=1000 auid=1000 ses=3 msg=\'cwd="/home/alice" cmd=6964202D61 exe="/usr/bin/sudo" terminal=pts/0 res=success\'';
    const p = parseAuditLine(line)!;
    expect(p.audit.recordType).toBe("USER_CMD");
    expect(p.audit.fields).toMatchObject({ pid: "900", cwd: "/home/alice", cmd: "id -a", exe: "/usr/bin/sudo", terminal: "pts/0", res: "success", node: "web1" });
  });

  it("is not fooled by a bare hex value in a field auditd never encodes", () => {
    expect(parseAuditLine("type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e success=yes exit=0 ppid=10")!.audit.fields.arch).toBe("c000003e");
  });

  it("refuses what is not an audit record, and bounds what is", () => {
    for (const bad of ["", "hello", "type=EXECVE msg=audit(notatime): a0=1", "May  1 12:00:00 h sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2"]) expect(parseAuditLine(bad)).toBeNull();
    const many = `type=EXECVE msg=audit(1700000000.000:2): argc=999 ${Array.from({ length: 600 }, (_, i) => `a${i}="${"x".repeat(10_000)}"`).join(" ")}`;
    const p = parseAuditLine(many)!;
    expect(Object.keys(p.audit.fields)).toHaveLength(AUDIT_LIMITS.fields);
    expect(p.audit.fields.a0!.length).toBe(AUDIT_LIMITS.value);
    expect(p.audit.raw.length).toBe(AUDIT_LIMITS.raw);
  });

  it("redacts Vigil tokens and API keys from EXECVE args, PROCTITLE and the raw line, plain or hex-encoded, whole or in pieces", () => {
    const token = `vet_0123456789abcdef_${"S".repeat(43)}`;
    const key = `vk_fedcba9876543210_${"k".repeat(43)}`;
    const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
    // The token with a space around it forces auditd's hex encoding; the key is plain and quoted.
    const execve = `type=EXECVE msg=audit(1700000000.001:9): argc=4 a0="vigil-agent" a1="enroll" a2=${hex(` ${token} `)} a3="${key}"`;
    const p = parseAuditLine(execve)!;
    expect(p.audit.fields.a2).toBe(" vet_0123456789abcdef_[REDACTED] ");
    expect(p.audit.fields.a3).toBe("vk_fedcba9876543210_[REDACTED]");
    const leaks = (s: string) => s.includes("SSSS") || s.includes("kkkk") || s.includes(hex("SSSS")) || s.includes(hex("kkkk"));
    expect(leaks(p.audit.raw)).toBe(false);
    expect(p.audit.raw).toContain('a0="vigil-agent"');

    const title = parseAuditLine(`type=PROCTITLE msg=audit(1700000000.001:9): proctitle=${hex(["sh", "install.sh", "--token", token].join("\0"))}`)!;
    expect(title.audit.fields.proctitle).toBe("sh install.sh --token vet_0123456789abcdef_[REDACTED]");
    expect(leaks(title.audit.raw)).toBe(false);

    // A long argument split across a2[0], a2[1]: the token straddles the pieces.
    const arg = `${"x".repeat(10)} ${token}`;
    const split = `type=EXECVE msg=audit(1700000000.001:9): argc=3 a0="sh" a1="-c" a2_len=${arg.length} a2[0]=${hex(arg.slice(0, 30))} a2[1]=${hex(arg.slice(30))}`;
    const q = parseAuditLine(split)!;
    expect(q.audit.fields.a2).toBe(`${"x".repeat(10)} vet_0123456789abcdef_[REDACTED]`);
    expect(leaks(q.audit.raw)).toBe(false);

    // sudo's USER_CMD (cmd= hex inside msg='...') and an unrelated record stay intact otherwise.
    const sudo = parseAuditLine(`type=USER_CMD msg=audit(1700000000.001:9): pid=1 uid=0 msg='cwd="/root" cmd=${hex(`vigil-controller x ${key}`)} exe="/usr/bin/sudo" res=success'`)!;
    expect(sudo.audit.fields.cmd).toBe("vigil-controller x vk_fedcba9876543210_[REDACTED]");
    expect(leaks(sudo.audit.raw)).toBe(false);
    expect(parseAuditLine(EXECVE)!.audit.raw).toBe(EXECVE);
  });
});
