import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "../../..");
const AGENT = join(ROOT, "dist/vigil-agent.cjs");
const CONTROLLER = join(ROOT, "controller/bin/vigil-controller.js");
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, VIGIL_LOG_LEVEL: "error" }, maxBuffer: 64 << 20 });

// An intrusion as a Debian auth.log tells it (documentation addresses, invented names): a password
// guesser, its success, then a backdoor account given sudo.
const AUTH_LOG = [
  ...Array.from({ length: 6 }, (_, i) => `Mar  6 06:31:${String(30 + i * 5).padStart(2, "0")} ip-172-31-35-28 sshd[${2400 + i}]: Failed password for root from 203.0.113.68 port ${46000 + i} ssh2`),
  "Mar  6 06:32:44 ip-172-31-35-28 sshd[2491]: Accepted password for root from 203.0.113.68 port 53184 ssh2",
  "Mar  6 06:32:44 ip-172-31-35-28 sshd[2491]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)",
  "Mar  6 06:34:18 ip-172-31-35-28 useradd[2592]: new user: name=backdoor, UID=1002, GID=1002, home=/home/backdoor, shell=/bin/bash, from=/dev/pts/1",
  "Mar  6 06:35:15 ip-172-31-35-28 usermod[2628]: add 'backdoor' to group 'sudo'",
  "Mar  6 06:35:15 ip-172-31-35-28 usermod[2628]: add 'backdoor' to shadow group 'sudo'",
  "Mar  6 06:37:24 ip-172-31-35-28 sshd[2491]: Received disconnect from 203.0.113.68 port 53184:11: disconnected by user",
];

describe("replaying an old log against rules (vigil-agent parse | vigil-controller rules test)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-replay-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("an auth.log from months ago gives the alerts it would have given live, on its own clock", () => {
    const log = join(dir, "auth.log");
    writeFileSync(log, AUTH_LOG.join("\n") + "\n");
    // Written in March 2024: the year of the classic stamps comes from the file's mtime.
    const written = new Date("2024-03-07T00:00:00Z");
    utimesSync(log, written, written);
    const parsed = node([AGENT, "parse", "--auth-log", log]);
    expect(parsed.status, parsed.stderr).toBe(0);
    expect(parsed.stderr).toMatch(/12 lines, 12 events/);
    const lines = parsed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ seq: 1, auth: { action: "AUTH_ACTION_LOGIN_FAILURE", sourceIp: "203.0.113.68" } });
    expect(new Date(Number(lines[0].eventTimeMs)).getFullYear()).toBe(2024);
    expect(lines.at(-1)).toMatchObject({ auth: { action: "AUTH_ACTION_OTHER", service: "sshd" } });

    const events = join(dir, "auth.jsonl");
    writeFileSync(events, parsed.stdout);
    const r = node([CONTROLLER, "rules", "test", "--rules", "detection/rules", "--events", events]);
    expect(r.status, r.stderr).toBe(0);
    const titles = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).title);
    expect(titles).toEqual(expect.arrayContaining(["SSH Brute Force From One Source", "SSH Brute Force Followed By Successful Login", "Local Account Created", "Account Added To A Privileged Group"]));
    // The shadow-group twin is no second change.
    expect(titles.filter((t) => t === "Account Added To A Privileged Group")).toHaveLength(1);
  });

  it("an auditd log runs through public auditd rules the same way", () => {
    const parsed = node([AGENT, "parse", "--audit-log", "agent/test/fixtures/auditd/debian12-auditd-3.0.9.log"]);
    expect(parsed.status, parsed.stderr).toBe(0);
    // The records of one audit event become one event, as in the running sensor.
    expect(parsed.stderr).toMatch(/163 lines, 35 events/);
    const events = join(dir, "audit.jsonl");
    writeFileSync(events, parsed.stdout);
    const r = node([CONTROLLER, "rules", "test", "--rules", "agent/test/fixtures/sigma-auditd", "--events", events]);
    expect(r.status, r.stderr).toBe(0);
    const titles = new Set(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).title),
    );
    expect([...titles].sort()).toEqual(["Creation Of An User Account", "Modification of ld.so.preload", "Remove Immutable File Attribute - Auditd", "System Owner or User Discovery - Linux"]);
  });

  it("a syslog file becomes log events that service-routed keyword rules match", () => {
    const log = join(dir, "syslog");
    writeFileSync(log, ["May  5 10:00:01 web1 CRON[1234]: (root) REPLACE (root)", "May  5 10:00:02 web1 kernel: eth0: link up", "not a syslog line"].join("\n") + "\n");
    const parsed = node([AGENT, "parse", "--syslog", log, "--now", "2024-05-10T00:00:00Z"]);
    expect(parsed.stderr).toMatch(/3 lines, 2 events/);
    const events = join(dir, "syslog.jsonl");
    writeFileSync(events, parsed.stdout);
    const rules = join(dir, "cron.yml");
    writeFileSync(
      rules,
      "title: Cron Table Replaced\nid: 1a2b3c4d-0000-4000-8000-0000000000aa\nlogsource: {product: linux, service: cron}\ndetection:\n  keywords: ['REPLACE']\n  condition: keywords\nlevel: medium\n",
    );
    const r = node([CONTROLLER, "rules", "test", "--rules", rules, "--events", events]);
    expect(r.status, r.stderr).toBe(0);
    expect(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).title),
    ).toEqual(["Cron Table Replaced"]);
  });

  it("says what is wrong with its arguments", () => {
    expect(node([AGENT, "parse"]).stderr).toMatch(/exactly one of --auth-log FILE, --audit-log FILE or --syslog FILE/);
    expect(node([AGENT, "parse", "--auth-log", join(dir, "missing.log")]).stderr).toMatch(/missing\.log: ENOENT/);
    expect(node([AGENT, "parse", "--auth-log", join(dir, "auth.log"), "--now", "yesterday"]).stderr).toMatch(/--now "yesterday" is not a time/);
  });
});
