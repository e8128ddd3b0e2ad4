import { describe, expect, it } from "vitest";
import { AuthAction } from "@vigil/proto";
import { compileBuiltinRules, compileRules, DetectionEngine, toSigmaEvent } from "@vigil/detection";
import { parseAuthLine } from "../../../src/sensors/auth";

// Line shapes seen in real auth logs (Ubuntu, RHEL /var/log/secure, fail2ban's sshd
// corpus, DFIR write-ups), rewritten with documentation addresses and made-up names.
const NOW = new Date(2024, 4, 10, 12, 0, 0);
const parse = (line: string, now = NOW) => parseAuthLine(line, { now })?.auth ?? null;
const A = AuthAction;

describe("sshd: the source address is sshd's own, never the client's text", () => {
  it("a user name carrying a fake 'from <ip> port <n> ssh2' does not move the source", () => {
    const a = parse("May  1 12:00:00 h sshd[1]: Failed password for invalid user x from 192.0.2.66 port 1 ssh2 from 198.51.100.9 port 40000 ssh2")!;
    expect(a).toMatchObject({ action: A.AUTH_ACTION_LOGIN_FAILURE, user: "x from 192.0.2.66 port 1 ssh2", sourceIp: "198.51.100.9", sourcePort: 40000 });
  });

  it("hostbased: the client-chosen host in the trailing info does not move the source", () => {
    const a = parse('May  1 12:00:00 h sshd[1]: Failed hostbased for root from 198.51.100.9 port 40000 ssh2: RSA SHA256:abc, client user "u", client host "q from 192.0.2.66 port 1 ssh2"')!;
    expect(a).toMatchObject({ user: "root", sourceIp: "198.51.100.9", sourcePort: 40000, method: "hostbased" });
  });

  it("a candidate that is not an IP address is skipped; a line with none yields nothing", () => {
    const a = parse("May  1 12:00:00 h sshd[1]: Failed password for bob from evil.example port 9 ssh2 from 198.51.100.9 port 40000 ssh2")!;
    expect(a.sourceIp).toBe("198.51.100.9");
    expect(parse("May  1 12:00:00 h sshd[1]: Failed password for bob from evil.example port 9 ssh2")).toBeNull();
  });

  it("host names from PAM's rhost or UseDNS never land in SourceIp", () => {
    expect(parse("May  1 12:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=host-7.example.net  user=root")).toMatchObject({
      action: A.AUTH_ACTION_LOGIN_FAILURE,
      user: "root",
      sourceIp: "",
    });
    expect(parse("May  1 12:00:00 h sshd[1]: error: PAM: Authentication failure for bob from host-7.example.net")).toMatchObject({ user: "bob", sourceIp: "" });
    expect(parse("May  1 12:00:00 h sshd[1]: error: PAM: Authentication failure for bob from 2001:db8::7")!.sourceIp).toBe("2001:db8::7");
  });
});

describe("sshd: attempts that leave no 'Failed ...' line", () => {
  it.each([
    ["Connection closed by authenticating user root 192.0.2.7 port 46852 [preauth]", "root"],
    ["Connection reset by authenticating user admin 192.0.2.7 port 46852 [preauth]", "admin"],
    ["Disconnected from invalid user svc account 192.0.2.7 port 46722 [preauth]", "svc account"],
    ["Connection closed by invalid user oracle 2001:db8::7 port 46722 [preauth]", "oracle"],
    ["Disconnecting authenticating user admin 192.0.2.7 port 40001: Too many authentication failures [preauth]", "admin"],
  ])("%s", (msg, user) => {
    const a = parse(`May  1 12:00:00 h sshd[9]: ${msg}`)!;
    expect(a).toMatchObject({ action: A.AUTH_ACTION_AUTH_ABORTED, user, service: "sshd" });
    expect(a.sourceIp).toMatch(/^(192\.0\.2\.7|2001:db8::7)$/);
    expect(a.sourcePort).toBeGreaterThan(0);
  });

  it("maximum authentication attempts exceeded, and the pre-7.x wording", () => {
    expect(parse("May  1 12:00:00 h sshd[9]: error: maximum authentication attempts exceeded for invalid user test from 192.0.2.31 port 51380 ssh2 [preauth]")).toMatchObject({
      action: A.AUTH_ACTION_AUTH_ABORTED,
      user: "test",
      sourceIp: "192.0.2.31",
      sourcePort: 51380,
    });
    expect(parse("May  1 12:00:00 h sshd[9]: Disconnecting: Too many authentication failures for git [preauth]")).toMatchObject({ action: A.AUTH_ACTION_AUTH_ABORTED, user: "git" });
  });

  it("an unknown user through PAM (RHEL keyboard-interactive)", () => {
    expect(parse("May  1 12:00:00 h sshd[9]: error: PAM: User not known to the underlying authentication module for illegal user kernel from 192.0.2.27")).toMatchObject({
      action: A.AUTH_ACTION_INVALID_USER,
      user: "kernel",
      sourceIp: "192.0.2.27",
    });
  });

  it("the built-in brute-force counter is not inflated by these (they are not login_failure)", () => {
    const lines = Array.from({ length: 8 }, (_, i) => `May  1 12:00:0${i} h sshd[${i + 10}]: Connection closed by authenticating user root 192.0.2.7 port ${40000 + i} [preauth]`);
    const { ruleset } = compileBuiltinRules();
    const engine = new DetectionEngine(ruleset);
    const matches = lines.flatMap((l) => {
      const p = parseAuthLine(l, { now: NOW })!;
      return engine.process(toSigmaEvent({ seq: 1, eventTimeMs: p.timeMs, body: { $case: "auth", auth: p.auth } }, { agentId: "a", hostname: "h" })!);
    });
    expect([...matches, ...engine.flush()].map((m) => m.rule.title)).not.toContain("SSH Brute Force From One Source");
  });
});

describe("access refused and lockouts", () => {
  it.each([
    ["sshd[1]: User root from 192.0.2.49 not allowed because not listed in AllowUsers", { user: "root", sourceIp: "192.0.2.49" }],
    ["sshd[1]: User deploy from 192.0.2.49 not allowed because none of user's groups are listed in AllowGroups", { user: "deploy", sourceIp: "192.0.2.49" }],
    ["sshd[1]: User root not allowed because account is locked", { user: "root", sourceIp: "" }],
    ["sshd[1]: fatal: Access denied for user adminops by PAM account configuration [preauth]", { user: "adminops", method: "pam" }],
    ["sshd[1]: pam_sss(sshd:account): Access denied for user adminops: 6 (Permission denied)", { user: "adminops", method: "pam_sss" }],
    ["sshd[1]: pam_unix(sshd:account): account temp has expired (account expired)", { user: "temp", method: "pam_unix" }],
    ["sshd[1]: ROOT LOGIN REFUSED FROM 192.0.2.4 port 12345 [preauth]", { user: "root", sourceIp: "192.0.2.4", sourcePort: 12345 }],
  ])("%s", (rest, fields) => {
    expect(parse(`May  1 12:00:00 h ${rest}`)).toMatchObject({ action: A.AUTH_ACTION_ACCESS_DENIED, service: "sshd", ...fields });
  });

  it("pam_faillock and pam_tally2 lockouts; a tally under the limit is not one", () => {
    expect(parse("May  1 12:00:00 h su[5]: pam_faillock(su-l:auth): Consecutive login failures for user testuser account temporarily locked")).toMatchObject({
      action: A.AUTH_ACTION_ACCOUNT_LOCKED,
      user: "testuser",
      service: "su",
      method: "pam_faillock",
    });
    expect(parse("May  1 12:00:00 h sshd[5]: pam_tally2(sshd:auth): user root (0) tally 4, deny 3")).toMatchObject({ action: A.AUTH_ACTION_ACCOUNT_LOCKED, user: "root" });
    expect(parse("May  1 12:00:00 h sshd[5]: pam_tally2(sshd:auth): user root (0) tally 2, deny 3")).toBeNull();
  });
});

describe("sessions pair up on the session's account", () => {
  it("sudo: the open names the invoker, the close only the account; both carry it as TargetUser", () => {
    const open = parse("May  1 12:00:00 h sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)")!;
    const close = parse("May  1 12:00:09 h sudo: pam_unix(sudo:session): session closed for user root")!;
    expect(open).toMatchObject({ action: A.AUTH_ACTION_SESSION_OPEN, user: "alice", targetUser: "root" });
    expect(close).toMatchObject({ action: A.AUTH_ACTION_SESSION_CLOSE, targetUser: "root" });
  });
});

describe("login(1) from util-linux (RHEL, Fedora, Arch)", () => {
  it("failures from a terminal and from a remote host; root logins in capitals", () => {
    expect(parse("May  1 12:00:00 h login[1024]: FAILED LOGIN 1 FROM tty1 FOR azerr, Authentication failure")).toMatchObject({
      action: A.AUTH_ACTION_LOGIN_FAILURE,
      user: "azerr",
      tty: "tty1",
      sourceIp: "",
      service: "login",
    });
    expect(parse("May  1 12:00:00 h login[1024]: FAILED LOGIN 2 FROM 192.0.2.5 FOR bob, User not known to the underlying authentication module")).toMatchObject({
      action: A.AUTH_ACTION_LOGIN_FAILURE,
      user: "bob",
      sourceIp: "192.0.2.5",
    });
    expect(parse("May  1 12:00:00 h login[1024]: ROOT LOGIN ON tty2")).toMatchObject({ action: A.AUTH_ACTION_LOGIN_SUCCESS, user: "root", tty: "tty2" });
  });
});

describe("account management (shadow-utils): how a backdoor account appears", () => {
  it("useradd, usermod -aG, gpasswd -a, passwd, userdel", () => {
    expect(parse("May  1 12:00:00 h useradd[2592]: new user: name=backdoor, UID=1002, GID=1002, home=/home/backdoor, shell=/bin/bash, from=/dev/pts/1")).toMatchObject({
      action: A.AUTH_ACTION_ACCOUNT_CREATED,
      targetUser: "backdoor",
      tty: "pts/1",
      pid: 2592,
      service: "useradd",
    });
    expect(parse("May  1 12:00:01 h usermod[2628]: add 'backdoor' to group 'sudo'")).toMatchObject({ action: A.AUTH_ACTION_GROUP_MEMBER_ADDED, targetUser: "backdoor", groupName: "sudo" });
    // The gshadow twin of the same change is not a second event.
    expect(parse("May  1 12:00:01 h usermod[2628]: add 'backdoor' to shadow group 'sudo'")).toBeNull();
    expect(parse("May  1 12:00:02 h gpasswd[30]: user backdoor added by root to group docker")).toMatchObject({
      action: A.AUTH_ACTION_GROUP_MEMBER_ADDED,
      user: "root",
      targetUser: "backdoor",
      groupName: "docker",
    });
    expect(parse("May  1 12:00:03 h passwd[2603]: pam_unix(passwd:chauthtok): password changed for backdoor")).toMatchObject({
      action: A.AUTH_ACTION_PASSWORD_CHANGED,
      targetUser: "backdoor",
      service: "passwd",
    });
    expect(parse("May  1 12:00:04 h userdel[40]: delete user 'backdoor'")).toMatchObject({ action: A.AUTH_ACTION_ACCOUNT_DELETED, targetUser: "backdoor" });
  });

  it("the built-in rule raises a high alert for a privileged group, not for an ordinary one", () => {
    const { ruleset } = compileBuiltinRules();
    const titles = (line: string): string[] => {
      const p = parseAuthLine(line, { now: NOW })!;
      const engine = new DetectionEngine(ruleset);
      const ms = engine.process(toSigmaEvent({ seq: 1, eventTimeMs: p.timeMs, body: { $case: "auth", auth: p.auth } }, { agentId: "a", hostname: "h" })!);
      return ms.map((m) => `${m.rule.title}/${m.rule.level}`);
    };
    expect(titles("May  1 12:00:01 h usermod[2628]: add 'backdoor' to group 'sudo'")).toContain("Account Added To A Privileged Group/high");
    expect(titles("May  1 12:00:01 h usermod[2628]: add 'alice' to group 'audio'")).not.toContain("Account Added To A Privileged Group/high");
  });
});

describe("older and exported formats", () => {
  it("PAM of the mid-2000s: 'sshd(pam_unix)[pid]:' tags and '(pam_unix)' prefixes", () => {
    expect(parse("May  1 12:00:00 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=192.0.2.4  user=root")).toMatchObject({
      action: A.AUTH_ACTION_LOGIN_FAILURE,
      service: "sshd",
      user: "root",
      sourceIp: "192.0.2.4",
      pid: 19939,
    });
    expect(parse("May  1 12:00:00 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)")).toMatchObject({ action: A.AUTH_ACTION_SESSION_OPEN, service: "su", targetUser: "cyrus" });
    expect(parse("May  1 12:00:00 vaio sshd[16004]: (pam_unix) authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.12  user=root")).toMatchObject({
      action: A.AUTH_ACTION_LOGIN_FAILURE,
      user: "root",
      sourceIp: "192.0.2.12",
    });
    expect(parse("May  1 12:00:00 combo sshd(pam_unix)[19937]: check pass; user unknown")).toBeNull();
  });

  it("FAILED SU keeps the terminal without /dev/", () => {
    expect(parse("May  1 12:00:00 h su[5]: FAILED SU (to root) alice on /dev/pts/1")).toMatchObject({ action: A.AUTH_ACTION_SU_FAILURE, tty: "pts/1" });
  });

  it("journalctl -o short-precise (fractional seconds) and RFC 5424 forwarded syslog", () => {
    const p = parseAuthLine("May 01 12:00:05.123456 h sshd[42]: Accepted publickey for alice from 192.0.2.7 port 50122 ssh2: ED25519 SHA256:x", { now: NOW })!;
    expect(p.timeMs).toBe(new Date(2024, 4, 1, 12, 0, 5).getTime());
    const r = parseAuthLine("<38>1 2024-05-01T10:00:00.5Z web1 sshd 4242 - - Failed password for root from 192.0.2.8 port 2222 ssh2", { now: NOW })!;
    expect(r.timeMs).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 500));
    expect(r.auth).toMatchObject({ action: A.AUTH_ACTION_LOGIN_FAILURE, hostname: "web1", pid: 4242, user: "root", service: "sshd" });
    const sd = parseAuthLine('<86>1 2024-05-01T10:00:00Z web1 su - - [meta sequenceId="1" x="a\\]b"] FAILED SU (to root) bob on pts/3', { now: NOW })!;
    expect(sd.auth).toMatchObject({ action: A.AUTH_ACTION_SU_FAILURE, user: "bob", pid: 0 });
  });

  it("a stamp seconds after New Year read by a reader still in the old year belongs to the new year", () => {
    const eve = new Date(2024, 11, 31, 23, 59, 50);
    expect(parseAuthLine("Jan  1 00:00:05 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2", { now: eve })!.timeMs).toBe(new Date(2025, 0, 1, 0, 0, 5).getTime());
    // ... and a December line read in January is still last year's.
    const jan = new Date(2025, 0, 2, 0, 0, 0);
    expect(parseAuthLine("Dec 31 23:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2", { now: jan })!.timeMs).toBe(new Date(2024, 11, 31, 23, 0, 0).getTime());
  });
});

describe("every line reaches keyword rules", () => {
  // Written the way public Linux rule sets write sshd rules: a keyword list on service sshd.
  const RULE = `title: SSHD Error Signature
id: 0c1f6c2e-4e7a-4b59-9e0c-2a7b1d3f4e55
logsource:
    product: linux
    service: sshd
detection:
    keywords:
        - 'Corrupted MAC on input'
        - 'Bad packet length'
    condition: keywords
level: medium
`;

  it("a line that is no login is kept as 'other' and a keyword rule on service sshd matches it", () => {
    const line = "May  1 12:58:47 h sshd-session[2711815]: Corrupted MAC on input. [preauth]";
    expect(parseAuthLine(line, { now: NOW })).toBeNull();
    const p = parseAuthLine(line, { now: NOW, keepOther: true })!;
    expect(p.auth).toMatchObject({ action: A.AUTH_ACTION_OTHER, service: "sshd", pid: 2711815, raw: line });
    const { ruleset, errors } = compileRules([{ name: "kw.yml", text: RULE }]);
    expect(errors).toEqual([]);
    const engine = new DetectionEngine(ruleset);
    const hit = engine.process(toSigmaEvent({ seq: 1, eventTimeMs: p.timeMs, body: { $case: "auth", auth: p.auth } }, { agentId: "a", hostname: "h" })!);
    expect(hit.map((m) => m.rule.title)).toEqual(["SSHD Error Signature"]);
    const other = parseAuthLine("May  1 12:58:47 h sshd[5]: Server listening on 0.0.0.0 port 22.", { now: NOW, keepOther: true })!;
    expect(engine.process(toSigmaEvent({ seq: 2, eventTimeMs: other.timeMs, body: { $case: "auth", auth: other.auth } }, { agentId: "a", hostname: "h" })!)).toEqual([]);
  });

  it("other programs are filed under their own name, which service: auth rules see", () => {
    const p = parseAuthLine("May  1 12:00:00 h pkexec[77]: alice: Error executing command as another user: Not authorized [USER=root]", { now: NOW, keepOther: true })!;
    expect(p.auth).toMatchObject({ action: A.AUTH_ACTION_OTHER, service: "pkexec" });
    const ev = toSigmaEvent({ seq: 1, eventTimeMs: p.timeMs, body: { $case: "auth", auth: p.auth } }, { agentId: "a", hostname: "h" })!;
    expect(ev.logsource).toMatchObject({ product: "linux", category: "authentication", service: "auth" });
  });
});
