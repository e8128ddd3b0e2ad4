/**
 * Response race against fail2ban: an SSH brute force written to an auth log, and the time from
 * the fifth failed line to the attacker's address being blocked.
 *
 * Real pieces on both sides, watching the same temporary auth log:
 * - fail2ban (the Debian package, installed with apt-get when missing) with its own
 *   configuration in a temp dir: the stock sshd filter, maxretry 5, pyinotify, and a ban action
 *   that only appends the address and the time (nanoseconds) to a file. fail2ban-server runs in
 *   the foreground with its socket, pid file and log in the temp dir.
 * - Vigil: the built controller (SQLite) and the bundled agent in a network namespace, the agent
 *   tailing the log through its `auth_log` setting; the built-in `SSH Brute Force From One Source`.
 *   Two paths, 20 attackers each: "local" (the agent's signed local policy runs the rule and
 *   blocks by itself, as offline) and "controller" (the controller's engine alerts, a playbook
 *   with approval: auto blocks the source, the signed command travels back). The moment is the
 *   address appearing in `inet vigil_block`, seen by `nft monitor` in the host namespace.
 *
 * 20 attackers per path (one source IP each, 5 failed lines 0.2 s apart), one after the other.
 *
 *   npm run build && npm run bench:response
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningController, startController } from "../../controller/dist/app/bootstrap";
import { loadConfig } from "../../controller/dist/config/config";
import { createLogger } from "../../controller/dist/logging/logger";
import { BUILTIN_RULES } from "../../detection/src/sigma/builtin-rules";
import { createTopology, netnsUnavailableReason, waitFor } from "../../agent/test/helpers/netns";
import { spawnNsAgent } from "../../agent/test/response/ns-agent";
import { type BootController, startNsController } from "../../agent/test/response/ns-controller";
import { machine, percentile, writeBenchSection } from "./lib/report";

const ATTACKERS = 20;
const LINES = 5;
const GAP_MS = 200;
const PORT = 7793;
const BRUTE_FORCE_ID = "895fed99-f646-4f2c-90d6-cdcade3a6d70";
type PathKind = "local" | "controller";

/** The built controller (tsx cannot compile its decorators), plaintext gRPC on loopback. */
async function bootFromDist(dataDir: string): Promise<RunningController> {
  const config = loadConfig({ http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir, database: `sqlite:${join(dataDir, "vigil.db")}`, logLevel: "warn", insecureGrpc: true }, process.env);
  return startController(config, { logger: createLogger("error") });
}

function ensureFail2ban(): void {
  // pyinotify for the interpreter fail2ban runs on (its shebang), not whichever python3 is first on PATH.
  const server = spawnSync("sh", ["-c", "command -v fail2ban-server"], { encoding: "utf8" }).stdout.trim();
  const python = server ? (/^#!\s*(\S+)/.exec(readFileSync(server, "utf8").split("\n")[0]!)?.[1] ?? "python3") : "";
  if (server && spawnSync(python, ["-c", "import pyinotify"]).status === 0) return;
  console.log("installing fail2ban (apt-get)...");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "fail2ban", "python3-pyinotify"], { stdio: "inherit", env });
  if (r.status !== 0) throw new Error("apt-get install fail2ban failed");
}

/** A classic syslog sshd line, local time, as rsyslog writes /var/log/auth.log. */
function failedLine(ip: string, n: number): string {
  const d = new Date();
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.getMonth()];
  const p2 = (x: number) => String(x).padStart(2, "0");
  const pid = 20_000 + n;
  return `${mon} ${String(d.getDate()).padStart(2, " ")} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} bench-host sshd[${pid}]: Failed password for root from ${ip} port ${40_000 + n} ssh2\n`;
}

interface Fail2ban {
  /** wall-clock ms at which the ban action ran for `ip`, once it has */
  bannedAt(ip: string): number | undefined;
  stop(): Promise<void>;
  log(): string;
}

async function startFail2ban(dir: string, authLog: string): Promise<Fail2ban> {
  const conf = join(dir, "fail2ban");
  cpSync("/etc/fail2ban", conf, { recursive: true });
  for (const d of ["jail.d", "fail2ban.d"]) for (const f of readdirSync(join(conf, d))) rmSync(join(conf, d, f), { force: true, recursive: true });
  const bans = join(dir, "bans.log");
  const logFile = join(dir, "fail2ban.log");
  writeFileSync(bans, "");
  writeFileSync(join(conf, "fail2ban.local"), `[Definition]\nloglevel = INFO\nlogtarget = ${logFile}\nsocket = ${join(dir, "f2b.sock")}\npidfile = ${join(dir, "f2b.pid")}\ndbfile = :memory:\n`);
  writeFileSync(join(conf, "action.d", "bench-record.conf"), `[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban = echo "<ip> $(date +%%s%%N)" >> ${bans}\nactionunban =\n`);
  writeFileSync(
    join(conf, "jail.conf"),
    `[DEFAULT]\nbackend = pyinotify\nusedns = no\nignoreip =\nbantime = 3600\nfindtime = 600\nmaxretry = 5\n\n[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${authLog}\naction = bench-record\n`,
  );
  const proc: ChildProcess = spawn("fail2ban-server", ["-f", "-x", "-c", conf, "-s", join(dir, "f2b.sock"), "-p", join(dir, "f2b.pid"), "--logtarget", logFile], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  proc.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "") + err;
  if (!(await waitFor(() => /Jail 'sshd' started/.test(log()), 20_000, 50))) throw new Error(`fail2ban did not start:\n${log()}`);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    bannedAt(ip) {
      const m = new RegExp(`^${ip.replace(/\./g, "\\.")} (\\d+)$`, "m").exec(readFileSync(bans, "utf8"));
      return m ? Number(BigInt(m[1]!) / 1_000_000n) : undefined;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
    log,
  };
}

/** Addresses added to `inet vigil_block`, with the moment `nft monitor` reported them. */
function monitorBlocks(ns: string): { proc: ChildProcess; at(ip: string): number | undefined } {
  const seen = new Map<string, number>();
  const proc = spawn("ip", ["netns", "exec", ns, "nft", "monitor"], { stdio: ["ignore", "pipe", "inherit"] });
  let buf = "";
  proc.stdout!.on("data", (b: Buffer) => {
    const now = performance.now();
    buf += b.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^add element inet vigil_block \S+ \{ ([0-9a-f.:]+)/.exec(line);
      if (m && !seen.has(m[1]!)) seen.set(m[1]!, now);
    }
  });
  return { proc, at: (ip) => seen.get(ip) };
}

/** The built-in brute-force rule and its step, as one policy rule (one YAML stream). */
function bruteForcePolicy(version: number): Record<string, unknown> & { version: number } {
  const text = BUILTIN_RULES.find((r) => r.name === "lnx_ssh_brute_force.yml")!.text;
  return { version, rules: [{ id: "ssh-brute-force", yaml: text }], iocs: [], actions: [{ ruleId: "ssh-brute-force", actions: [{ type: "block_ip", params: { ttlSeconds: 600 } }] }] };
}

interface Sample {
  vigil: number;
  fail2ban: number;
  /** controller path, ms after the fifth line (wall clock): last event stored, alert committed, playbook decided */
  storedMs?: number;
  alertMs?: number;
  decidedMs?: number;
}

async function main(): Promise<void> {
  const skip = await netnsUnavailableReason();
  if (skip) {
    console.log(`response: skipped (${skip})`);
    return;
  }
  ensureFail2ban();
  const dir = mkdtempSync(join(tmpdir(), "vigil-response-"));
  const authLog = join(dir, "auth.log");
  writeFileSync(authLog, "");
  const f2b = await startFail2ban(dir, authLog);
  const topo = await createTopology();
  // dist and src declare the same classes, which TypeScript keeps apart (private members are nominal);
  // the helper is typed against src, the bench runs the built controller.
  const nsc = await startNsController(topo.controller, PORT, bootFromDist as unknown as BootController);
  const agent = spawnNsAgent(topo.host, {
    controller: nsc.address,
    wallLog: join(dir, "wall.log"),
    extraConfig: { sensors: { process: false, network: false, file: false, auth: true, audit: false, syslog: false }, auth_log: authLog },
  });
  const mon = monitorBlocks(topo.host.ns);
  const results: Record<PathKind, Sample[]> = { local: [], controller: [] };
  const started = Date.now();
  try {
    if (!(await waitFor(() => nsc.ctl.registry.session(agent.agentId) !== undefined, 20_000))) throw new Error(`agent did not connect\n${agent.output()}`);
    let n = 0;
    for (const kind of ["local", "controller"] as PathKind[]) {
      if (kind === "local") {
        nsc.send(agent.agentId, { msg: { $case: "policy", policy: nsc.policy(agent.agentId, bruteForcePolicy(1)) } });
        if (!(await waitFor(() => agent.output().includes("local policy applied"), 10_000))) throw new Error(`policy not applied\n${agent.output()}`);
      } else {
        // The controller decides now: the local rule goes (a newer, empty policy), a playbook blocks.
        nsc.send(agent.agentId, { msg: { $case: "policy", policy: nsc.policy(agent.agentId, { version: 2, rules: [], iocs: [], actions: [] }) } });
        if (!(await waitFor(() => (agent.output().match(/local policy applied/g) ?? []).length >= 2, 10_000))) throw new Error(`empty policy not applied\n${agent.output()}`);
        await nsc.ctl.playbooks.save(
          `id: bench-block\nname: bench block\nwhen:\n  rules: [${BRUTE_FORCE_ID}]\nactions:\n  - type: block_ip\n    params: {ttlSeconds: 600}\napproval: auto\n`,
          "bench",
          "create",
        );
      }
      // Let the tailer open the log and settle.
      await new Promise((r) => setTimeout(r, 1000));
      for (let a = 0; a < ATTACKERS; a++) {
        const ip = `${kind === "local" ? "198.51.100" : "203.0.113"}.${a + 1}`;
        let t5 = 0;
        let wall5 = 0;
        for (let i = 0; i < LINES; i++) {
          if (i) await new Promise((r) => setTimeout(r, GAP_MS));
          appendFileSync(authLog, failedLine(ip, n++));
          t5 = performance.now();
          wall5 = Date.now();
        }
        if (!(await waitFor(() => mon.at(ip) !== undefined && f2b.bannedAt(ip) !== undefined, 20_000, 5)))
          throw new Error(
            `${kind} attacker ${ip}: vigil ${mon.at(ip) !== undefined ? "blocked" : "did not block"}, fail2ban ${f2b.bannedAt(ip) !== undefined ? "banned" : "did not ban"}\n${agent.output().slice(-3000)}\n${f2b.log().slice(-2000)}`,
          );
        const s: Sample = { vigil: mon.at(ip)! - t5, fail2ban: f2b.bannedAt(ip)! - wall5 };
        if (kind === "controller") {
          // Where the controller path spends its time: events stored, alert committed, playbook decided (wall clock).
          const ev = await nsc.ctl.dataSource.query(`SELECT MAX(received_at) AS t FROM events WHERE agent_id = ? AND summary LIKE ?`, [agent.agentId, `%${ip}%`]).catch(() => []);
          const al = await nsc.ctl.dataSource.query(`SELECT id, created_at FROM alerts WHERE entity_value = ?`, [ip]);
          const pa = al[0] ? await nsc.ctl.dataSource.query(`SELECT decided_at FROM playbook_actions WHERE alert_id = ?`, [al[0].id]) : [];
          if (ev[0]?.t) s.storedMs = Number(ev[0].t) - wall5;
          if (al[0]) s.alertMs = Number(al[0].created_at) - wall5;
          if (pa[0]?.decided_at) s.decidedMs = Number(pa[0].decided_at) - wall5;
        }
        results[kind].push(s);
        const split = s.alertMs !== undefined ? ` (stored ${s.storedMs ?? "?"} ms, alert ${s.alertMs} ms, playbook decided ${s.decidedMs ?? "?"} ms)` : "";
        console.log(`${kind} attacker ${a + 1}/${ATTACKERS} ${ip}: vigil ${s.vigil.toFixed(0)} ms${split}, fail2ban ${s.fail2ban.toFixed(0)} ms`);
      }
    }
  } finally {
    mon.proc.kill("SIGKILL");
    await agent.crash();
    await nsc.dispose();
    await topo.destroy();
    await f2b.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const stats = (xs: number[]) => {
    const s = sorted(xs);
    return { p50: percentile(s, 50), p99: percentile(s, 99), min: s[0]!, max: s[s.length - 1]! };
  };
  const f2bAll = stats([...results.local, ...results.controller].map((s) => s.fail2ban));
  const paths = (["controller", "local"] as PathKind[]).map((k) => ({ kind: k, ...stats(results[k].map((s) => s.vigil)) }));
  const worst = [...paths].sort((a, b) => b.p99 - a.p99)[0]!;
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const label: Record<PathKind, string> = {
    controller: "Vigil, controller (agent tails the log → controller Sigma → playbook → signed block_ip)",
    local: "Vigil, local policy (the agent decides alone, as offline)",
  };
  const met = paths.every((p) => p.p99 < f2bAll.p50);
  const med = (xs: number[]) => percentile(sorted(xs), 50);
  const pick = (f: (s: Sample) => number | undefined) => results.controller.map(f).filter((x): x is number => x !== undefined);
  const split = { stored: pick((s) => s.storedMs), alert: pick((s) => s.alertMs), decided: pick((s) => s.decidedMs) };
  const md = [
    "## Response to an SSH brute force (vs fail2ban)",
    "",
    `\`npm run bench:response\` (${machine()}): ${ATTACKERS} attackers per Vigil path, each one source IP writing ${LINES} failed SSH password lines ${GAP_MS} ms apart to one auth log that fail2ban and the Vigil agent both watch.`,
    "Time from writing the fifth line to the block: for Vigil, the address appearing in `inet vigil_block` (`nft monitor` in the agent's network namespace);",
    "for fail2ban 1.0.2 (stock sshd filter, maxretry 5, pyinotify backend), its ban action running (it only records the time).",
    "",
    "| who | p50 | p99 | min | max |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...paths.map((p) => `| ${label[p.kind]} | ${ms(p.p50)} | ${ms(p.p99)} | ${ms(p.min)} | ${ms(p.max)} |`),
    `| fail2ban (same lines, both runs) | ${ms(f2bAll.p50)} | ${ms(f2bAll.p99)} | ${ms(f2bAll.min)} | ${ms(f2bAll.max)} |`,
    "",
    `Target: Vigil's p99 below fail2ban's p50 on both paths: ${met ? "met" : "**not met**"}. The brute-force correlation fires early (the fifth failure inside ten minutes`,
    "completes it; nothing waits for the reorder tolerance; see docs/sigma-support.md), the agent's tailer wakes on inotify and its spool syncs on the leading edge.",
    ...(split.stored.length
      ? [
          `Controller path, medians after the fifth line: events stored ${ms(med(split.stored))}, alert committed ${ms(med(split.alert))}, playbook decided ${ms(med(split.decided))}; the rest is the signed command's trip to the agent and \`nft\`.`,
        ]
      : []),
    "Before early firing (issue #15) the same race took Vigil 60-64 s: every input of a correlation waited for the 60 s reorder tolerance.",
    `Load average at the end: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores (shared with other work); whole run ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  ].join("\n");
  writeBenchSection("response", md);
  for (const p of paths) console.log(`${p.kind}: vigil p50 ${ms(p.p50)}, p99 ${ms(p.p99)}`);
  console.log(`response: vigil p50 ${worst.p50.toFixed(0)} ms p99 ${worst.p99.toFixed(0)} ms; fail2ban p50 ${f2bAll.p50.toFixed(0)} ms p99 ${f2bAll.p99.toFixed(0)} ms`);
}

void main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e);
    process.exit(1);
  },
);
