import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthAction, type AuthEvent } from "@vigil/proto";
import { AuthSensor, type AuthSensorOptions } from "../../../src/sensors/auth";
import type { EventBody, EventSink } from "../../../src/sensors/sensor";
import { tempDir, waitFor } from "./helpers";

/** A real sink that keeps what it is given. */
class CollectingSink implements EventSink {
  readonly events: { auth: AuthEvent; timeMs: number }[] = [];
  emit(body: EventBody, eventTimeMs: number): void {
    if (body.$case === "auth") this.events.push({ auth: body.auth, timeMs: eventTimeMs });
  }
}

let dir: string;
let cleanup: () => void;
const sensors: AuthSensor[] = [];
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(async () => {
  for (const s of sensors.splice(0)) await s.stop();
  cleanup();
});

async function startSensor(opts: Partial<AuthSensorOptions>) {
  const sink = new CollectingSink();
  const sensor = new AuthSensor({ stateDir: path.join(dir, "state"), pollMs: 15, ...opts });
  sensors.push(sensor);
  await sensor.start(sink);
  return { sensor, sink };
}

const append = (file: string, lines: string[]) => appendFileSync(file, lines.map((l) => `${l}\n`).join(""));
const ssh = (n: number, ip = "192.0.2.77") => `May  5 10:00:${String(n % 60).padStart(2, "0")} web1 sshd[${1000 + n}]: Failed password for root from ${ip} port ${40000 + n} ssh2`;

describe("AuthSensor on a file", () => {
  it("turns appended auth lines into events with the right fields", async () => {
    const log = path.join(dir, "auth.log");
    append(log, ["May  5 09:00:00 web1 sshd[1]: Accepted password for old from 192.0.2.1 port 1 ssh2"]); // before start: skipped
    const { sensor, sink } = await startSensor({ path: log, now: () => new Date(2024, 4, 10) });
    expect(sensor.source).toBe(`file:${log}`);
    append(log, [
      "May  5 10:00:00 web1 sshd[2001]: Accepted publickey for alice from 2001:db8::7 port 52000 ssh2: ED25519 SHA256:cXdlcnR5",
      "May  5 10:00:01 web1 CRON[3]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
      "May  5 10:00:02 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
      "May  5 10:00:03 web1 sshd[2002]: message repeated 3 times: [ Failed password for root from 192.0.2.9 port 4000 ssh2]",
    ]);
    await waitFor(() => sink.events.length >= 6, "6 events");
    const actions = sink.events.map((e) => e.auth.action);
    expect(actions).toEqual([
      AuthAction.AUTH_ACTION_LOGIN_SUCCESS,
      // cron's session line is no login; it still comes, as "other", for keyword rules.
      AuthAction.AUTH_ACTION_OTHER,
      AuthAction.AUTH_ACTION_SUDO,
      AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      AuthAction.AUTH_ACTION_LOGIN_FAILURE,
    ]);
    expect(sink.events[0]!.auth).toMatchObject({ user: "alice", sourceIp: "2001:db8::7", sourcePort: 52000, pid: 2001, method: "publickey" });
    expect(sink.events[1]!.auth).toMatchObject({ service: "cron", pid: 3, user: "", raw: expect.stringContaining("pam_unix(cron:session)") });
    expect(sink.events[2]!.auth).toMatchObject({ user: "alice", targetUser: "root", command: "/usr/bin/id", tty: "pts/0" });
    expect(sink.events[0]!.timeMs).toBe(new Date(2024, 4, 5, 10, 0, 0).getTime()); // local time, year from `now`
    expect(sensor.health()).toMatchObject({ name: "auth", running: true, detail: `reading ${log}: SSH logins and failures, sudo, su, account changes`, events: 6, errors: 0 });
  });

  it("with allLines off, only recognised authentication events come", async () => {
    const log = path.join(dir, "auth.log");
    writeFileSync(log, "");
    const { sink } = await startSensor({ path: log, allLines: false, now: () => new Date(2024, 4, 10) });
    append(log, ["May  5 10:00:01 web1 CRON[3]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", ssh(1)]);
    await waitFor(() => sink.events.length >= 1, "1 event");
    expect(sink.events.map((e) => e.auth.action)).toEqual([AuthAction.AUTH_ACTION_LOGIN_FAILURE]);
  });

  it("rotation, copytruncate and a restart lose nothing and duplicate nothing", async () => {
    const log = path.join(dir, "secure");
    writeFileSync(log, "");
    // No path: picks the first candidate that exists.
    const first = await startSensor({ candidates: [path.join(dir, "auth.log"), log] });
    append(
      log,
      [0, 1, 2].map((n) => ssh(n)),
    );
    await waitFor(() => first.sink.events.length >= 3, "first 3");
    renameSync(log, `${log}-20240506`); // RHEL dateext rotation
    writeFileSync(log, "");
    append(
      log,
      [3, 4].map((n) => ssh(n)),
    );
    await waitFor(() => first.sink.events.length >= 5, "after rotation");
    copyFileSync(log, `${log}.copy`);
    truncateSync(log, 0);
    await waitFor(() => first.sensor.health().events >= 5 && readFileSync(log).length === 0, "truncated");
    append(
      log,
      [5].map((n) => ssh(n)),
    );
    await waitFor(() => first.sink.events.length >= 6, "after truncation");
    await first.sensor.stop();
    sensors.length = 0;

    append(
      log,
      [6, 7].map((n) => ssh(n)),
    ); // written while the agent is down
    const second = await startSensor({ candidates: [log] });
    append(
      log,
      [8].map((n) => ssh(n)),
    );
    await waitFor(() => second.sink.events.length >= 3, "after restart");
    const ports = [...first.sink.events, ...second.sink.events].map((e) => e.auth.sourcePort);
    expect(ports).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => 40000 + n));
  });

  it("runs degraded and says why when the log cannot be read", async () => {
    const log = path.join(dir, "auth.log");
    mkdirSync(log); // unreadable as a file, even for root
    const { sensor } = await startSensor({ path: log });
    await waitFor(() => sensor.health().detail !== "", "detail");
    expect(sensor.health()).toMatchObject({ running: true, detail: expect.stringMatching(/^reading .*auth\.log.*; cannot read .*auth\.log: EISDIR/) });
    expect(sensor.health().errors).toBe(1); // reported once, not once per poll
  });

  const isRoot = process.getuid?.() === 0;

  it.skipIf(isRoot)("EACCES names the fix (as non-root; the root variant below runs instead)", async () => {
    const log = path.join(dir, "auth.log");
    writeFileSync(log, "");
    chmodSync(log, 0o000);
    const { sensor } = await startSensor({ path: log });
    await waitFor(() => sensor.health().detail !== "", "detail");
    expect(sensor.health().detail).toContain(`; cannot read ${log}: EACCES (run as root)`);
  });

  it.runIf(isRoot)("EACCES names the fix (root: the real sensor runs as uid 65534 in a child)", async () => {
    // Root reads any file, so the sensor runs in a child process as "nobody". The
    // child gets a bundle (esbuild) because nobody cannot read the TypeScript sources.
    chmodSync(dir, 0o755);
    const log = path.join(dir, "auth.log");
    writeFileSync(log, "secret\n", { mode: 0o600 });
    const probe = path.join(dir, "probe.ts");
    writeFileSync(
      probe,
      `import { AuthSensor } from ${JSON.stringify(path.resolve(__dirname, "../../../src/sensors/auth"))};
       const s = new AuthSensor({ path: ${JSON.stringify(log)}, stateDir: ${JSON.stringify(path.join(dir, "nobody-state"))}, pollMs: 20 });
       void s.start({ emit: () => undefined }).then(async () => { console.log(JSON.stringify(s.health())); await s.stop(); });`,
    );
    const { build } = await import("esbuild");
    const bundle = path.join(dir, "probe.cjs");
    await build({
      entryPoints: [probe],
      bundle: true,
      platform: "node",
      format: "cjs",
      outfile: bundle,
      logLevel: "silent",
      alias: { "@vigil/proto": path.resolve(__dirname, "../../../../proto/src/index.ts") },
    });
    chmodSync(bundle, 0o644);
    mkdirSync(path.join(dir, "nobody-state"), { mode: 0o777 });
    chmodSync(path.join(dir, "nobody-state"), 0o777);
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync(process.execPath, [bundle], { uid: 65534, gid: 65534, encoding: "utf8", timeout: 20_000 });
    expect(JSON.parse(out)).toMatchObject({ running: true, detail: expect.stringContaining(`cannot read ${log}: EACCES (run as root)`), errors: 1 });
  });
});

describe("AuthSensor on journald", () => {
  // journalctl here cannot be pointed at test entries, so a stand-in script plays it:
  // the first run prints two entries and exits (as if journalctl died); later runs
  // record their arguments and keep running.
  function fakeJournalctl(): { command: string; argsFile: string } {
    const argsFile = path.join(dir, "args");
    const entries = path.join(dir, "entries.json");
    const entry = (cursor: string, ident: string, msg: string) =>
      JSON.stringify({ __CURSOR: cursor, __REALTIME_TIMESTAMP: "1714557600123456", _HOSTNAME: "j1", SYSLOG_IDENTIFIER: ident, _PID: "77", MESSAGE: msg });
    writeFileSync(
      entries,
      [entry("s=1;i=1", "sshd", "Invalid user guest from 198.51.100.4 port 999"), "{truncated garbage", entry("s=1;i=2", "sudo", "   bob : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/true")].join(
        "\n",
      ) + "\n",
    );
    const command = path.join(dir, "journalctl");
    writeFileSync(command, `#!/bin/sh\necho "$*" >> '${argsFile}'\ncase "$*" in *--after-cursor*) exec sleep 30;; esac\ncat '${entries}'\nexit 3\n`);
    chmodSync(command, 0o755);
    return { command, argsFile };
  }

  it("falls back to journalctl, parses entries, restarts it after it dies and resumes after the cursor", async () => {
    const { command, argsFile } = fakeJournalctl();
    const { sensor, sink } = await startSensor({ candidates: [path.join(dir, "none")], journalctl: command, journalBackoffMs: 20 });
    expect(sensor.source).toBe("journald");
    const state = () => `health ${JSON.stringify(sensor.health())}; ${sink.events.length} events; runs: ${existsSync(argsFile) ? readFileSync(argsFile, "utf8") : "none yet"}`;
    await waitFor(() => sink.events.length >= 2, "journal events", undefined, state);
    expect(sink.events[0]).toEqual({
      timeMs: 1714557600123,
      auth: expect.objectContaining({ action: AuthAction.AUTH_ACTION_INVALID_USER, user: "guest", hostname: "j1", pid: 77, service: "sshd" }),
    });
    expect(sink.events[1]!.auth).toMatchObject({ action: AuthAction.AUTH_ACTION_SUDO, user: "bob", command: "/bin/true" });
    await waitFor(() => readFileSync(argsFile, "utf8").includes("--after-cursor=s=1;i=2"), "restart after the cursor", undefined, state);
    const runs = readFileSync(argsFile, "utf8").trim().split("\n");
    expect(runs[0]).toContain("-f -o json --no-pager -n 0 SYSLOG_IDENTIFIER=sshd");
    expect(sensor.health().errors).toBeGreaterThanOrEqual(1); // the exit was counted
    expect(sink.events).toHaveLength(2);
  });

  it("without an auth log and without journalctl (not on PATH) it says it is blind, and does not fail", async () => {
    const journalDir = path.join(dir, "journal", "0123abcd");
    mkdirSync(journalDir, { recursive: true });
    writeFileSync(path.join(journalDir, "system.journal"), ""); // journal files exist: only journalctl is missing
    const emptyPath = path.join(dir, "empty-bin");
    mkdirSync(emptyPath);
    const savedPath = process.env.PATH;
    process.env.PATH = emptyPath;
    try {
      const { sensor } = await startSensor({ candidates: [path.join(dir, "missing-auth.log")], journalDirs: [path.join(dir, "journal")], journalBackoffMs: 20 });
      await waitFor(
        () => /journalctl failed: ENOENT/.test(sensor.health().detail),
        "ENOENT detail",
        undefined,
        () => JSON.stringify(sensor.health()),
      );
      expect(sensor.health()).toMatchObject({ running: false, detail: expect.stringMatching(/^blind: no auth log and the journal is unavailable .*: SSH brute-force and login detection are off$/) });
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it("with journalctl but no journal files (a container) it says it is blind until an entry arrives", async () => {
    const { command } = fakeJournalctl();
    const slow = path.join(dir, "slow-journalctl");
    // Prints nothing for a while, as the real journalctl does without journal files, then one entry.
    writeFileSync(
      slow,
      `#!/bin/sh
sleep 0.3
exec '${command}' "$@"
`,
    );
    chmodSync(slow, 0o755);
    const missing = path.join(dir, "missing-auth.log");
    const { sensor, sink } = await startSensor({ candidates: [missing], journalctl: slow, journalDirs: [path.join(dir, "no-journal")], journalBackoffMs: 20 });
    expect(sensor.health()).toMatchObject({
      running: false,
      detail: `blind: no auth log (${missing}) and no journal files (${path.join(dir, "no-journal")}): SSH brute-force and login detection are off`,
    });
    const state = () => `health ${JSON.stringify(sensor.health())}; ${sink.events.length} events`;
    await waitFor(() => sink.events.length >= 1, "a journal entry", undefined, state);
    // (The stand-in then exits and is restarted: wait for the restarted one, which stays up.)
    await waitFor(() => sensor.health().running, "no longer blind", undefined, state);
    expect(sensor.health().detail).toMatch(/following the journal/);
  });
});
