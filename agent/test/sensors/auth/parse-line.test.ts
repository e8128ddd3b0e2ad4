import { describe, expect, it } from "vitest";
import { AuthAction } from "@vigil/proto";
import { parseAuthLine } from "../../../src/sensors/auth";

// Lines below are written for these tests in the shapes Debian (auth.log) and
// RHEL (/var/log/secure) produce; addresses are from documentation ranges.
const NOW = new Date(2024, 4, 10, 12, 0, 0); // 10 May 2024, local time
const parse = (line: string, now = NOW) => parseAuthLine(line, { now });
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number) => new Date(y, mo, d, h, mi, s).getTime();

describe("parseAuthLine: sshd", () => {
  it("reads OpenSSH 9.8+ (sshd-session) and 10 (sshd-auth) process names as sshd", () => {
    for (const prog of ["sshd-session", "sshd-auth"]) {
      const r = parseAuthLine(`May  1 12:00:05 web1 ${prog}[4242]: Failed password for invalid user admin from 2001:db8::5 port 50122 ssh2`)!;
      expect(r.auth).toMatchObject({ service: "sshd", user: "admin", sourceIp: "2001:db8::5", method: "password" });
    }
  });

  it("accepted publickey, classic Debian stamp", () => {
    const line = "May  1 12:00:05 web1 sshd[4242]: Accepted publickey for alice from 198.51.100.7 port 50122 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4";
    const r = parse(line)!;
    expect(r.timeMs).toBe(local(2024, 4, 1, 12, 0, 5));
    expect(r.repeat).toBeUndefined();
    expect(r.auth).toEqual({
      action: AuthAction.AUTH_ACTION_LOGIN_SUCCESS,
      user: "alice",
      targetUser: "",
      sourceIp: "198.51.100.7",
      sourcePort: 50122,
      method: "publickey",
      pid: 4242,
      service: "sshd",
      command: "",
      tty: "",
      hostname: "web1",
      raw: line,
      groupName: "",
    });
  });

  it.each([
    ["password", "password"],
    ["keyboard-interactive/pam", "keyboard-interactive"],
    ["gssapi-with-mic", "gssapi-with-mic"],
  ])("accepted %s on RHEL", (written, method) => {
    const r = parse(`May 9 23:59:59 db-02 sshd[911]: Accepted ${written} for bob from 203.0.113.20 port 2222 ssh2`)!;
    expect(r.auth).toMatchObject({ action: AuthAction.AUTH_ACTION_LOGIN_SUCCESS, method, user: "bob", sourcePort: 2222, hostname: "db-02" });
    expect(r.timeMs).toBe(local(2024, 4, 9, 23, 59, 59));
  });

  it("accepted with an RFC 3339 stamp and IPv6 source", () => {
    const r = parse("2024-05-01T12:00:00.123456+02:00 web1 sshd[123]: Accepted password for carol from 2001:db8::1f port 40000 ssh2")!;
    expect(r.timeMs).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 123));
    expect(r.auth).toMatchObject({ user: "carol", sourceIp: "2001:db8::1f", sourcePort: 40000, pid: 123 });
  });

  it("RFC 3339 with Z and no fraction; IPv4-mapped IPv6 reported as IPv4", () => {
    const r = parse("2023-12-31T23:59:59Z h sshd-session[7]: Failed password for root from ::ffff:192.0.2.44 port 1 ssh2")!;
    expect(r.timeMs).toBe(Date.UTC(2023, 11, 31, 23, 59, 59));
    expect(r.auth).toMatchObject({ action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, service: "sshd", sourceIp: "192.0.2.44" });
  });

  it("failed password / publickey for a known user", () => {
    expect(parse("May  2 03:14:15 web1 sshd[5000]: Failed password for root from 192.0.2.10 port 60001 ssh2")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      user: "root",
      sourceIp: "192.0.2.10",
      sourcePort: 60001,
      method: "password",
    });
    expect(parse("May  2 03:14:15 web1 sshd[5000]: Failed publickey for git from 192.0.2.10 port 60002 ssh2: RSA SHA256:YWJjZGVm")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      user: "git",
      method: "publickey",
      sourcePort: 60002,
    });
  });

  it("failed password for an invalid user whose name mimics the tail", () => {
    const r = parse("May  2 03:14:16 web1 sshd[5001]: Failed password for invalid user ad min from 6.6.6.6 port 1 from 192.0.2.11 port 41000 ssh2")!;
    expect(r.auth).toMatchObject({ action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, user: "ad min from 6.6.6.6 port 1", sourceIp: "192.0.2.11", sourcePort: 41000 });
  });

  it("invalid user, with and without port, with empty name", () => {
    expect(parse("May  2 03:14:16 web1 sshd[5001]: Invalid user oracle from 192.0.2.11 port 41000")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_INVALID_USER,
      user: "oracle",
      sourceIp: "192.0.2.11",
      sourcePort: 41000,
    });
    expect(parse("May  2 03:14:16 old sshd[77]: Invalid user test from 2001:db8:0:1::9")!.auth).toMatchObject({
      user: "test",
      sourceIp: "2001:db8:0:1::9",
      sourcePort: 0,
    });
    expect(parse("May  2 03:14:16 web1 sshd[5001]: Invalid user  from 192.0.2.12 port 4")!.auth.user).toBe("");
  });

  it("message repeated N times carries the count", () => {
    const r = parse("May  3 08:00:00 web1 sshd[6000]: message repeated 5 times: [ Failed password for root from 192.0.2.50 port 5555 ssh2]")!;
    expect(r.repeat).toBe(5);
    expect(r.auth).toMatchObject({ action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, user: "root", sourceIp: "192.0.2.50", pid: 6000 });
    expect(parse("May  3 08:00:00 web1 sshd[6000]: message repeated 99999999 times: [ Failed password for root from 192.0.2.50 port 5555 ssh2]")!.repeat).toBe(10_000);
    expect(parse("May  3 08:00:00 web1 sshd[6000]: message repeated 2 times: [ Server listening on 0.0.0.0 port 22.]")).toBeNull();
  });

  it("RHEL keyboard-interactive PAM error", () => {
    expect(parse("May  4 10:00:00 rhel9 sshd[300]: error: PAM: Authentication failure for root from 198.51.100.99")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      user: "root",
      sourceIp: "198.51.100.99",
      method: "keyboard-interactive",
    });
  });
});

describe("parseAuthLine: pam", () => {
  it("sshd session opened / closed (Debian with uid, RHEL without)", () => {
    expect(parse("May  1 12:00:05 web1 sshd[4242]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SESSION_OPEN,
      user: "alice",
      targetUser: "alice",
      service: "sshd",
      pid: 4242,
    });
    expect(parse("May  1 12:00:05 rhel7 sshd[42]: pam_unix(sshd:session): session opened for user alice by (uid=0)")!.auth.user).toBe("alice");
    expect(parse("May  1 13:00:00 web1 sshd[4242]: pam_unix(sshd:session): session closed for user alice")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SESSION_CLOSE,
      user: "alice",
    });
  });

  it("sudo, su, login and systemd-user sessions", () => {
    expect(parse("May  1 12:01:00 web1 sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SESSION_OPEN,
      service: "sudo",
      user: "alice",
      targetUser: "root",
      pid: 0,
    });
    expect(parse("May  1 12:02:00 web1 su[777]: pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)")!.auth).toMatchObject({
      service: "su",
      user: "alice",
      targetUser: "root",
    });
    expect(parse("May  1 12:03:00 web1 login[500]: pam_unix(login:session): session opened for user root(uid=0) by LOGIN(uid=0)")!.auth).toMatchObject({
      service: "login",
      user: "root",
      targetUser: "root",
    });
    expect(parse("May  1 12:04:00 web1 systemd[900]: pam_unix(systemd-user:session): session opened for user alice(uid=1000) by (uid=0)")!.auth).toMatchObject({
      service: "systemd-user",
      user: "alice",
    });
    expect(parse("May  1 12:05:01 web1 CRON[901]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")).toBeNull();
  });

  it("authentication failures map to the service's failure action", () => {
    expect(parse("May  2 03:14:14 web1 sshd[5000]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.10  user=root")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      user: "root",
      sourceIp: "192.0.2.10",
      method: "pam_unix",
      service: "sshd",
      tty: "ssh",
    });
    expect(parse("May  2 03:14:14 web1 sshd[5000]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::66")!.auth).toMatchObject({
      sourceIp: "2001:db8::66",
      user: "",
    });
    expect(parse("May  2 09:00:00 web1 sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/1 ruser=alice rhost=  user=alice")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SUDO_FAILURE,
      user: "alice",
      tty: "pts/1",
      sourceIp: "",
    });
    expect(parse("May  2 09:01:00 rhel9 su[1200]: pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=pts/0 ruser=alice rhost=  user=root")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SU_FAILURE,
      user: "alice",
      targetUser: "root",
      service: "su",
    });
    expect(parse("May  2 09:02:00 rhel9 sshd[1300]: pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.3 user=dave")!.auth).toMatchObject({
      method: "pam_sss",
      user: "dave",
    });
  });
});

describe("parseAuthLine: sudo, su, login, logind", () => {
  it("sudo command, Debian (no pid) and RHEL (pid)", () => {
    const r = parse("May  1 12:01:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt install -y curl ; echo done")!;
    expect(r.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SUDO,
      service: "sudo",
      user: "alice",
      targetUser: "root",
      tty: "pts/0",
      command: "/usr/bin/apt install -y curl ; echo done",
      pid: 0,
    });
    expect(parse("May  1 12:01:00 rhel9 sudo[3001]:    bob : TTY=pts/2 ; PWD=/tmp ; USER=postgres ; ENV=A=1 ; COMMAND=/usr/bin/psql")!.auth).toMatchObject({
      user: "bob",
      targetUser: "postgres",
      command: "/usr/bin/psql",
      pid: 3001,
    });
    expect(parse("May  1 12:01:00 web1 sudo: deploy : PWD=/srv ; USER=root ; COMMAND=/bin/systemctl restart app")!.auth).toMatchObject({
      user: "deploy",
      tty: "",
      command: "/bin/systemctl restart app",
    });
  });

  it("sudo failures", () => {
    expect(parse("May  1 12:06:00 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SUDO_FAILURE,
      user: "alice",
      targetUser: "root",
      command: "/bin/bash",
      tty: "pts/0",
    });
    expect(parse("May  1 12:07:00 web1 sudo:    mallory : user NOT in sudoers ; TTY=pts/3 ; PWD=/home/mallory ; USER=root ; COMMAND=/bin/cat /etc/shadow")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SUDO_FAILURE,
      user: "mallory",
      command: "/bin/cat /etc/shadow",
    });
  });

  it("su success and failure (util-linux and shadow forms)", () => {
    expect(parse("May  1 12:08:00 web1 su[8080]: (to root) alice on pts/0")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SU,
      service: "su",
      user: "alice",
      targetUser: "root",
      tty: "pts/0",
      pid: 8080,
    });
    expect(parse("May  1 12:08:30 web1 su[8081]: FAILED SU (to root) alice on pts/0")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SU_FAILURE,
      user: "alice",
      targetUser: "root",
    });
    expect(parse("May  1 12:09:00 old su[10]: Successful su for root by alice")!.auth).toMatchObject({ action: AuthAction.AUTH_ACTION_SU, user: "alice", targetUser: "root" });
    expect(parse("May  1 12:09:00 old su[10]: - pts/1 alice:root")!.auth).toMatchObject({ action: AuthAction.AUTH_ACTION_SU_FAILURE, tty: "pts/1" });
  });

  it("console login and logind sessions", () => {
    expect(parse("May  1 07:00:00 web1 login[600]: ROOT LOGIN  on '/dev/tty1'")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_LOGIN_SUCCESS,
      user: "root",
      tty: "tty1",
      service: "login",
    });
    expect(parse("May  1 07:00:00 web1 login[600]: FAILED LOGIN (1) on '/dev/tty2' FOR 'bob', Authentication failure")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      user: "bob",
      tty: "tty2",
    });
    expect(parse("May  1 12:00:05 web1 systemd-logind[512]: New session 42 of user alice.")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SESSION_OPEN,
      user: "alice",
      service: "systemd-logind",
      tty: "session-42",
    });
    expect(parse("May  1 13:00:00 web1 systemd-logind[512]: Removed session 42.")!.auth).toMatchObject({
      action: AuthAction.AUTH_ACTION_SESSION_CLOSE,
      tty: "session-42",
    });
  });
});

describe("parseAuthLine: timestamps and rejects", () => {
  it("a December stamp read in early January is last year", () => {
    const jan = new Date(2025, 0, 1, 0, 5, 0);
    expect(parse("Dec 31 23:59:58 web1 sshd[1]: Invalid user x from 192.0.2.1 port 2", jan)!.timeMs).toBe(local(2024, 11, 31, 23, 59, 58));
    // Up to a day ahead is clock skew, not last year.
    expect(parse("Jan  1 10:00:00 web1 sshd[1]: Invalid user x from 192.0.2.1 port 2", jan)!.timeMs).toBe(local(2025, 0, 1, 10, 0, 0));
  });

  it("Feb 29 read in a non-leap year goes back to the last leap year", () => {
    expect(parse("Feb 29 10:00:00 h sshd[1]: Invalid user x from 192.0.2.1", new Date(2025, 2, 1))!.timeMs).toBe(local(2024, 1, 29, 10, 0, 0));
  });

  it("RFC 3339 offset without colon and negative offset", () => {
    expect(parse("2024-05-01T12:00:00-0430 h sshd[1]: Invalid user x from 192.0.2.1")!.timeMs).toBe(Date.UTC(2024, 4, 1, 16, 30));
  });

  it.each([
    "",
    "garbage",
    "May  1 12:00:05 web1 sshd[4242]: Server listening on :: port 22.",
    "May  1 12:00:05 web1 kernel: [  1.0] Accepted password for x from 1.2.3.4 port 1 ssh2",
    "Foo  1 12:00:05 web1 sshd[1]: Accepted password for x from 1.2.3.4 port 1 ssh2",
    "May 32 12:00:05 web1 sshd[1]: Accepted password for x from 1.2.3.4 port 1 ssh2",
    "2024-13-01T00:00:00Z web1 sshd[1]: Accepted password for x from 1.2.3.4 port 1 ssh2",
    "May  1 12:01:00 web1 sudo: pam_unix(sudo:auth): conversation failed",
  ])("returns null for %j", (line) => {
    expect(parse(line)).toBeNull();
  });

  it("bounds raw and field lengths", () => {
    const long = "x".repeat(100_000);
    const r = parse(`May  2 03:14:16 web1 sshd[5001]: Invalid user ${long} from 192.0.2.11 port 41000`);
    // The address is beyond the parse window, so this is not a match at all...
    expect(r).toBeNull();
    const r2 = parse(`May  2 03:14:16 web1 sshd[5001]: Invalid user ${"y".repeat(5000)} from 192.0.2.11 port 41000`)!;
    expect(r2.auth.user.length).toBe(256);
    expect(r2.auth.raw.length).toBe(4096);
  });
});

describe("parseAuthLine: Vigil's own secrets", () => {
  it("a token or API key in sudo's COMMAND is redacted in command and raw", () => {
    const token = `vet_0123456789abcdef_${"T".repeat(43)}`;
    const r = parse(`May  1 12:01:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/sh -s -- --token ${token}`)!;
    expect(r.auth.command).toBe("/usr/bin/sh -s -- --token vet_0123456789abcdef_[REDACTED]");
    expect(r.auth.raw).toContain("--token vet_0123456789abcdef_[REDACTED]");
    expect(JSON.stringify(r)).not.toContain("TTTT");
  });
});
