/**
 * Attack coverage: runs each procedure of lib/attack/procedures.ts (an intruder's commands per ATT&CK
 * technique) as root on this host under the agent's kernel sensors in their default configuration
 * (eBPF processes, connections, and file changes under the default watched paths), puts what the
 * procedure's process tree did through the built-in rules and the bundled SigmaHQ pack with Vigil's
 * level policy, and counts the procedures that raised an alert (a match of a rule that alerts:
 * built-in, or pack at medium and above).
 *
 * Needs root and a BTF kernel; changes the host only for the length of a procedure (each undoes
 * itself). Run on a disposable machine:   npm run build && npm run bench:attack [-- --only T1003]
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BUILTIN_RULES, compileRules, DetectionEngine, toSigmaEvent, type Match } from "@vigil/detection";
import { Event, ProcessAction } from "@vigil/proto";
import { EbpfHelper, EbpfNetworkSensor, EbpfProcessSensor, FileAttribution } from "../../agent/src/sensors/ebpf";
import { DEFAULT_WATCH_PATHS, FileSensor } from "../../agent/src/sensors/file";
import { applyPackPolicy, packSources } from "../../controller/src/sigmahq/pack";
import { SIGMAHQ_BUNDLED_PACK } from "../../controller/src/sigmahq/bundled-pack";
import { PROCEDURES, type Procedure } from "./lib/attack/procedures";
import { machine, ROOT, writeBenchSection } from "./lib/report";

type EventBody = NonNullable<Event["body"]>;
const { values } = parseArgs({ options: { only: { type: "string" }, json: { type: "string" }, verbose: { type: "boolean", default: false }, write: { type: "boolean", default: true } } });
const HELPER = join(ROOT, "dist/vigil-ebpf");

interface Outcome {
  p: Procedure;
  alerts: string[];
  quiet: string[];
  events: number;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:attack runs the procedures as root");
  if (!existsSync(HELPER)) throw new Error(`${HELPER} missing: npm run build`);
  const work = mkdtempSync(join(tmpdir(), "vigil-attack-"));
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "key")]);
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end(req.url?.endsWith(".sh") ? "#!/bin/sh\nid\nuname -a\n" : "ok\n"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;

  const sink: { body: EventBody; at: number }[] = [];
  const record = { emit: (body: EventBody) => sink.push({ body, at: Date.now() }) };
  const helper = new EbpfHelper({ path: HELPER, prefixes: DEFAULT_WATCH_PATHS.map((p) => (p.endsWith("/") ? p : `${p}/`)) });
  const procs = new EbpfProcessSensor(helper);
  const net = new EbpfNetworkSensor(helper, procs);
  await procs.start(record);
  await net.start(record);
  const attribution = new FileAttribution(helper, procs);
  attribution.start();
  const files = new FileSensor({ paths: DEFAULT_WATCH_PATHS, attribute: (p) => attribution.lookup(p), kernel: attribution });
  await files.start(record);

  const { ruleset, errors } = compileRules([...BUILTIN_RULES, ...packSources({ ...SIGMAHQ_BUNDLED_PACK, origin: "bundled" })]);
  if (errors.length) throw new Error(`rules refused: ${errors.map(String).join("; ")}`);
  const quiet = applyPackPolicy(ruleset, SIGMAHQ_BUNDLED_PACK.overrides);

  const chosen = PROCEDURES.filter((p) => !values.only || p.technique.startsWith(values.only));
  const outcomes: Outcome[] = [];
  for (const [i, p] of chosen.entries()) {
    const w = join(work, String(i));
    mkdirSync(w);
    const env = { ...process.env, W: w, PORT: String(port), KEY: join(work, "key"), HOME: "/root" };
    const from = sink.length;
    const startedAt = Date.now();
    const child = spawn(p.shell ?? "sh", ["-c", p.script], { cwd: w, env, stdio: "ignore" });
    const root = child.pid!;
    await new Promise((r) => {
      const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
      child.on("exit", () => r(clearTimeout(t)));
    });
    // file events settle within ~1 s; the process table needs the exits too
    await new Promise((r) => setTimeout(r, 1500));
    const window = sink.slice(from);
    if (p.cleanup) spawnSync(p.shell ?? "sh", ["-c", p.cleanup], { cwd: w, env, stdio: "ignore" });
    const tree = new Set([root]);
    const starts = window.flatMap((e) => (e.body.$case === "process" && e.body.process.action === ProcessAction.PROCESS_ACTION_START ? [e.body.process] : []));
    for (let grew = true; grew;) {
      grew = false;
      for (const s of starts) if (tree.has(s.ppid) && !tree.has(s.pid)) grew = tree.add(s.pid) !== undefined;
    }
    const ours = window.filter(
      (e) =>
        (e.body.$case === "process" && tree.has(e.body.process.pid)) ||
        (e.body.$case === "network" && tree.has(e.body.network.pid)) ||
        (e.body.$case === "file" && (tree.has(e.body.file.pid) || (e.body.file.pid === 0 && e.at >= startedAt))),
    );
    const engine = new DetectionEngine(ruleset);
    const matches: Match[] = [];
    ours.forEach((e, n) => {
      const ev = toSigmaEvent(Event.fromPartial({ seq: n + 1, eventTimeMs: e.at, body: e.body }), { agentId: "attack", hostname: "attack" });
      if (ev) matches.push(...engine.process(ev));
      if (ev && values.verbose) console.log(`    ${ev.logsource.category} ${JSON.stringify(ev.fields).slice(0, 400)}`);
    });
    matches.push(...engine.flush());
    const titles = (ms: Match[]) => [...new Set(ms.map((m) => `${m.rule.level} ${m.rule.title}`))];
    const o = { p, alerts: titles(matches.filter((m) => !quiet.has(m.rule.id))), quiet: titles(matches.filter((m) => quiet.has(m.rule.id))), events: ours.length };
    outcomes.push(o);
    console.log(
      `${o.alerts.length ? "ALERT" : o.quiet.length ? "low  " : "none "} ${p.technique.padEnd(10)} ${p.name} (${o.events} events)${o.alerts.length ? ` <- ${o.alerts.join("; ")}` : o.quiet.length ? ` <- ${o.quiet.join("; ")}` : ""}`,
    );
  }
  await files.stop();
  await net.stop();
  await procs.stop();
  await helper.stop();
  server.close();
  rmSync(work, { recursive: true, force: true });

  const alerted = outcomes.filter((o) => o.alerts.length);
  const techniques = new Set(outcomes.map((o) => o.p.technique));
  const techAlerted = new Set(alerted.map((o) => o.p.technique));
  if (values.json)
    writeFileSync(
      values.json,
      JSON.stringify(
        outcomes.map((o) => ({ ...o.p, alerts: o.alerts, quiet: o.quiet, events: o.events })),
        null,
        1,
      ),
    );
  const pct = (a: number, b: number) => ((100 * a) / Math.max(1, b)).toFixed(0);
  if (values.write && !values.only)
    writeBenchSection(
      "attack",
      `## Attack coverage (bench:attack)

${machine()}, load ${loadavg()[0]!.toFixed(2)}. ${outcomes.length} procedures over ${techniques.size} ATT&CK techniques (\`scripts/bench/lib/attack/procedures.ts\`,
Vigil's own approximation of a safe subset of public Linux attack simulations, not the outside checkers' subset),
each run as root under the eBPF sensors in their default configuration, through the built-in rules and the bundled
SigmaHQ pack with Vigil's level policy (pack rules below medium raise risk but no alert).

| | alerted | share |
|---|---|---|
| procedures | ${alerted.length} of ${outcomes.length} | ${pct(alerted.length, outcomes.length)}% |
| techniques | ${techAlerted.size} of ${techniques.size} | ${pct(techAlerted.size, techniques.size)}% |
| procedures with only low/informational matches | ${outcomes.filter((o) => !o.alerts.length && o.quiet.length).length} | |`,
    );
  console.log(`attack: ${alerted.length} of ${outcomes.length} procedures alerted (${pct(alerted.length, outcomes.length)}%), ${techAlerted.size} of ${techniques.size} techniques`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
