import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Held while a test (or the bench) owns the one audit daemon the kernel allows; see auditdLock. */
const LOCK = "/tmp/vigil-test-auditd.lock";

/**
 * The kernel talks to one audit daemon at a time, and test files run in parallel: whoever starts
 * an auditd (a private one, or the system's in audit-sensor.test.ts) takes this lock first, and
 * waits for it otherwise. A lock whose holder died is taken over.
 */
export async function auditdLock(timeoutMs = 120_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      return () => rmSync(LOCK, { recursive: true, force: true });
    } catch {
      const holder = Number(existsSync(`${LOCK}/pid`) ? readFileSync(`${LOCK}/pid`, "utf8") : "0");
      if (holder > 0 && !existsSync(`/proc/${holder}`)) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${LOCK} held by pid ${holder} for ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100)); // polling for the other holder to finish
    }
  }
}

/** Why a private auditd cannot run here, or null. */
export function auditdUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root (auditd and auditctl need CAP_AUDIT_CONTROL)";
  if (spawnSync("sh", ["-c", "command -v auditd && command -v auditctl"]).status !== 0) return "auditd/auditctl not installed (Debian package auditd)";
  const status = spawnSync("auditctl", ["-s"], { encoding: "utf8" });
  if (status.status !== 0) return `auditctl -s failed: ${status.stderr.trim()}`;
  // A test's own auditd (this run's other files, or the bench) holds the lock: start() waits for it.
  if (!/^pid 0$/m.test(status.stdout) && !lockHeld()) return "another audit daemon is registered on this host";
  return null;
}

/** The lock's live holder runs a daemon of its own: the registered one is a test's, gone when it is released. */
function lockHeld(): boolean {
  const holder = Number(existsSync(`${LOCK}/pid`) ? readFileSync(`${LOCK}/pid`, "utf8") : "0");
  return holder > 0 && existsSync(`/proc/${holder}`) && existsSync(`${LOCK}/own-daemon`);
}

/** Said by the lock's holder before it starts an auditd of its own (which it stops before releasing). */
export function markOwnDaemon(): void {
  writeFileSync(`${LOCK}/own-daemon`, "");
}

/**
 * An auditd of the test's own: config, log and af_unix dispatcher socket under `dir`, so nothing
 * of the host's /etc/audit or /var/log/audit is used. The kernel's audit state it changes
 * (enabled, backlog) is put back by stop().
 */
export class PrivateAuditd {
  readonly log: string;
  readonly socket: string;
  private child: ChildProcess | undefined;
  private unlock: (() => void) | undefined;
  private before = { enabled: "0", backlog: "64" };

  constructor(private readonly dir: string) {
    this.log = join(dir, "audit.log");
    this.socket = join(dir, "events.sock");
  }

  async start(): Promise<void> {
    this.unlock = await auditdLock();
    // The daemon of whoever held the lock before may still be unregistering.
    await waitForNoDaemon();
    const st = spawnSync("auditctl", ["-s"], { encoding: "utf8" }).stdout;
    this.before = { enabled: /^enabled (\d)/m.exec(st)?.[1] ?? "0", backlog: /^backlog_limit (\d+)/m.exec(st)?.[1] ?? "64" };
    mkdirSync(join(this.dir, "plugins.d"), { recursive: true });
    const conf = readFileSync("/etc/audit/auditd.conf", "utf8")
      .replace(/^log_file\s*=.*$/m, `log_file = ${this.log}`)
      .replace(/^plugin_dir\s*=.*$/m, `plugin_dir = ${join(this.dir, "plugins.d")}`)
      .replace(/^log_group\s*=.*$/m, "log_group = root");
    writeFileSync(join(this.dir, "auditd.conf"), conf);
    writeFileSync(join(this.dir, "plugins.d", "af_unix.conf"), `active = yes\ndirection = out\npath = builtin_af_unix\ntype = builtin\nargs = 0600 ${this.socket}\nformat = string\n`);
    // -n: no fork, still writing the log (-f would send records to stderr instead).
    // A burst of execs must wait for auditd, not be lost to the kernel's 64-record default backlog.
    spawnSync("auditctl", ["-b", "8192"]);
    markOwnDaemon();
    this.child = spawn("auditd", ["-n", "-c", this.dir, "-s", "enable"], { stdio: "ignore" });
    const deadline = Date.now() + 10_000;
    while (!existsSync(this.socket) || !existsSync(this.log)) {
      if (Date.now() > deadline) throw new Error("private auditd did not create its socket and log");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    // auditd may still be finishing its own shutdown: set the state back until it holds.
    for (let i = 0; i < 20; i++) {
      spawnSync("auditctl", ["-e", this.before.enabled]);
      spawnSync("auditctl", ["-b", this.before.backlog]);
      const s = spawnSync("auditctl", ["-s"], { encoding: "utf8" }).stdout;
      if (new RegExp(`^enabled ${this.before.enabled}$`, "m").test(s)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.unlock?.();
    this.unlock = undefined;
  }
}

async function waitForNoDaemon(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!/^pid 0$/m.test(spawnSync("auditctl", ["-s"], { encoding: "utf8" }).stdout)) {
    if (Date.now() > deadline) throw new Error("an audit daemon is still registered: the private one cannot start");
    await new Promise((r) => setTimeout(r, 50)); // polling: the kernel has no notice of a daemon's exit
  }
}

/** Audit rules currently loaded (auditctl -l). */
export function auditRules(): string {
  return spawnSync("auditctl", ["-l"], { encoding: "utf8" }).stdout;
}
