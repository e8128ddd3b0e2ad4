import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AuthEvent } from "@vigil/proto";
import { parseAuthLine, parseJournalEntry, type ParsedAuth } from "../../../src/sensors/auth";

// Sample lines the mutations start from (written for this test).
const SEEDS = [
  "May  1 12:00:05 web1 sshd[4242]: Accepted publickey for alice from 198.51.100.7 port 50122 ssh2: ED25519 SHA256:Zm9v",
  "2024-05-01T12:00:00.123456+02:00 web1 sshd[123]: Failed password for invalid user admin from 2001:db8::1 port 4 ssh2",
  "May  2 03:14:16 web1 sshd[5001]: Invalid user oracle from 192.0.2.11 port 41000",
  "May  3 08:00:00 web1 sshd[6000]: message repeated 5 times: [ Failed password for root from 192.0.2.50 port 5555 ssh2]",
  "May  1 12:01:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
  "May  1 12:06:00 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
  "May  1 12:08:00 web1 su[8080]: (to root) alice on pts/0",
  "May  1 12:08:30 web1 su[8081]: FAILED SU (to root) alice on pts/0",
  "May  2 03:14:14 web1 sshd[5000]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.10  user=root",
  "May  1 12:01:00 web1 sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
  "May  1 12:00:05 web1 systemd-logind[512]: New session 42 of user alice.",
  "May  1 07:00:00 web1 login[600]: FAILED LOGIN (1) on '/dev/tty2' FOR 'bob', Authentication failure",
];

/** A seed with a few random edits: inserts, deletions, replacements, and duplicated spans. */
const mutated = fc.tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 20 }), fc.string({ unit: "binary", maxLength: 30 })), { maxLength: 6 })).map(([seed, edits]) =>
  edits.reduce((s, [at, del, ins]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + ins + s.slice(i + del);
  }, seed),
);

const anyLine = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme-ascii", maxLength: 300 }),
  mutated,
  mutated.map((s) => s.repeat(50)), // long
);

function assertBounded(r: ParsedAuth | null): void {
  if (r === null) return;
  expect(Number.isFinite(r.timeMs)).toBe(true);
  if (r.repeat !== undefined) {
    expect(r.repeat).toBeGreaterThan(1);
    expect(r.repeat).toBeLessThanOrEqual(10_000);
  }
  const a: AuthEvent = r.auth;
  for (const k of ["user", "targetUser", "hostname"] as const) expect(a[k].length).toBeLessThanOrEqual(256);
  for (const k of ["sourceIp", "method", "service", "tty"] as const) expect(a[k].length).toBeLessThanOrEqual(64);
  expect(a.command.length).toBeLessThanOrEqual(4096);
  expect(a.raw.length).toBeLessThanOrEqual(4096);
  expect(a.sourcePort).toBeGreaterThanOrEqual(0);
  expect(a.sourcePort).toBeLessThanOrEqual(65535);
  expect(Number.isInteger(a.pid) && a.pid >= 0).toBe(true);
}

describe("parser fuzz", () => {
  it("parseAuthLine never throws and bounds its output", () => {
    const now = new Date(2024, 4, 10);
    fc.assert(
      fc.property(anyLine, (line) => {
        assertBounded(parseAuthLine(line, { now }));
      }),
      { numRuns: 4000 },
    );
  });

  it("mutated seeds still parse often (the fuzz reaches the matchers)", () => {
    const samples = fc.sample(mutated, { numRuns: 500, seed: 42 });
    const hits = samples.filter((l) => parseAuthLine(l, { now: new Date(2024, 4, 10) }) !== null).length;
    expect(hits).toBeGreaterThan(50);
  });

  it("parseJournalEntry never throws on arbitrary values", () => {
    const entry = fc.record(
      {
        MESSAGE: fc.oneof(fc.constantFrom(...SEEDS.map((s) => s.replace(/^.*?: /, ""))), fc.string(), fc.array(fc.integer({ min: -5, max: 300 })), fc.constant(null)),
        SYSLOG_IDENTIFIER: fc.oneof(fc.constantFrom("sshd", "sudo", "su", "login", "systemd-logind"), fc.anything()),
        _PID: fc.oneof(fc.nat().map(String), fc.anything()),
        __REALTIME_TIMESTAMP: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String), fc.anything()),
        _HOSTNAME: fc.oneof(fc.string(), fc.anything()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(entry, fc.anything()), (obj) => {
        assertBounded(parseJournalEntry(obj));
      }),
      { numRuns: 3000 },
    );
  });

  it("journal MESSAGE as a byte array (invalid UTF-8 from a client-chosen user name) is decoded", () => {
    const msg = Buffer.concat([Buffer.from("Invalid user zo"), Buffer.from([0xff]), Buffer.from(" from 192.0.2.3 port 22")]);
    const r = parseJournalEntry({ MESSAGE: [...msg], SYSLOG_IDENTIFIER: "sshd", _PID: "9", __REALTIME_TIMESTAMP: "1714557600000000", _HOSTNAME: "h" });
    expect(r?.auth).toMatchObject({ user: "zo\uFFFD", sourceIp: "192.0.2.3", pid: 9, hostname: "h" });
    expect(r?.auth.raw).toBe("2024-05-01T10:00:00.000Z h sshd[9]: Invalid user zo\uFFFD from 192.0.2.3 port 22");
    expect(r?.timeMs).toBe(1714557600000);
  });
});
