/**
 * Containment latency: from the moment a triggering process starts on the host to the
 * moment the host's isolation table is in the kernel, over repeated runs.
 *
 * Real pieces only: network namespaces (host, controller, outside peer), the bundled
 * agent inside the host namespace with its default sensor intervals, the controller
 * (built dist) reachable from the controller namespace, a signed local policy whose
 * rule fires on a marker command line. The enforcement moment is taken from
 * `nft monitor tables` inside the host namespace (event-driven, not polled); each run
 * is then verified (table lists policy drop, the outside peer is unreachable) and
 * released with a signed command before the next.
 *
 *   npm run build && npm run bench:containment -- [--runs 20]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CommandStatus } from "@vigil/proto";
import { type RunningController, startController } from "../../controller/dist/app/bootstrap";
import { loadConfig } from "../../controller/dist/config/config";
import { createLogger } from "../../controller/dist/logging/logger";
import { createTopology, netnsUnavailableReason, waitFor } from "../../agent/test/helpers/netns";
import { markerPolicy } from "../../agent/test/response/marker-policy";
import { nftTables, spawnNsAgent } from "../../agent/test/response/ns-agent";
import { type BootController, startNsController } from "../../agent/test/response/ns-controller";
import { machine, percentile, writeBenchSection } from "./lib/report";

const { values } = parseArgs({ options: { runs: { type: "string", default: "20" }, path: { type: "string", default: "both" }, sensor: { type: "string", default: "auto" } } });
/** Where process events come from: auto (eBPF when it loads, as the agent's default), ebpf, proc. */
const SENSOR = values.sensor!;
const RUNS = Number(values.runs);
type PathKind = "local" | "controller";
const PATHS: PathKind[] = values.path === "both" ? ["controller", "local"] : [values.path as PathKind];
// Twenty automatic isolations in a few minutes: lift the fleet-wide guard rail for the bench only.
process.env.VIGIL_MAX_AUTO_ISOLATIONS_PER_HOUR = "100000";
const PORT = 7791;
const PEER_PORT = 7792;

/** The built controller (tsx cannot compile its decorators), plaintext gRPC on loopback. */
async function bootFromDist(dataDir: string): Promise<RunningController> {
  const config = loadConfig(
    { http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir, database: `sqlite:${join(dataDir, "vigil.db")}`, logLevel: "warn", insecureGrpc: true, insecureHttp: true },
    process.env,
  );
  return startController(config, { logger: createLogger("error") });
}

/** Timestamps (performance.now) of table additions/removals seen by `nft monitor` in the namespace. */
function monitorTables(ns: string): { proc: ChildProcess; next(kind: "add" | "delete", after: number, timeoutMs: number): Promise<number> } {
  const seen: Array<{ kind: string; at: number }> = [];
  const proc = spawn("ip", ["netns", "exec", ns, "nft", "monitor", "tables"], { stdio: ["ignore", "pipe", "inherit"] });
  let buf = "";
  proc.stdout!.on("data", (b: Buffer) => {
    const at = performance.now();
    buf += b.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^(add|delete) table inet vigil_isolate/.exec(line);
      if (m) seen.push({ kind: m[1] as string, at });
    }
  });
  return {
    proc,
    async next(kind, after, timeoutMs) {
      let hit: number | undefined;
      await waitFor(() => (hit = seen.find((s) => s.kind === kind && s.at >= after)?.at) !== undefined, timeoutMs, 5);
      if (hit === undefined) throw new Error(`no "${kind} table inet vigil_isolate" within ${timeoutMs} ms`);
      return hit;
    },
  };
}

/** Wall time of the first "local policy rule fired" log line at or after `since`. */
function firedAfter(log: string, since: number): number | undefined {
  for (const line of log.split("\n")) {
    if (!line.includes('"local policy rule fired"')) continue;
    const t = Date.parse((JSON.parse(line) as { time: string }).time);
    if (t >= since) return t;
  }
  return undefined;
}

interface PathResult {
  kind: PathKind;
  samples: number[];
  detectMs: number[];
  actMs: number[];
}

/** The marker rule: a process whose command line carries the marker. */
function markerRule(marker: string): { id: string; yaml: string } {
  const id = randomUUID();
  return {
    id,
    yaml: [
      "title: Vigil containment bench marker",
      `id: ${id}`,
      "logsource: { product: linux, category: process_creation }",
      "detection:",
      "  sel:",
      `    CommandLine|contains: ${marker}`,
      "  condition: sel",
      "level: critical",
      "tags: [attack.execution]",
    ].join("\n"),
  };
}

async function runPath(kind: PathKind): Promise<PathResult> {
  const topo = await createTopology();
  // dist and src declare the same classes, which TypeScript keeps apart (private members are nominal);
  // the helper is typed against src, the bench runs the built controller.
  const nsc = await startNsController(topo.controller, PORT, bootFromDist as unknown as BootController);
  const wallLog = join(tmpdir(), `vigil-wall-bench-${process.pid}.log`);
  const agent = spawnNsAgent(topo.host, {
    controller: nsc.address,
    wallLog,
    processSensor: true,
    extraConfig: { kernel_sensor: SENSOR, sensors: { process: true, network: true, file: false, auth: false, audit: false, syslog: false } },
  });
  const mon = monitorTables(topo.host.ns);
  const out: PathResult = { kind, samples: [], detectMs: [], actMs: [] };
  try {
    await topo.listen(topo.outside, PEER_PORT);
    if (!(await waitFor(() => nsc.ctl.registry.session(agent.agentId) !== undefined, 20_000))) throw new Error(`agent did not connect\n${agent.output()}`);
    const source = /"sensor":"process","detail":"([^"]*)"/.exec(agent.output())?.[1] ?? "(no process sensor line)";
    console.log(`${kind}: the agent's process sensor: ${source.slice(0, 100)}`);
    const marker = `vigil-bench-marker-${randomUUID().slice(0, 8)}`;
    if (kind === "local") {
      nsc.send(agent.agentId, { msg: { $case: "policy", policy: nsc.policy(agent.agentId, markerPolicy(1, marker)) } });
      if (!(await waitFor(() => agent.output().includes("local policy applied"), 10_000))) throw new Error(`policy not applied\n${agent.output()}`);
    } else {
      // The controller decides: the agent streams the process event, the controller's Sigma
      // engine raises an alert, a playbook isolates, the signed command travels back.
      const rule = markerRule(marker);
      await nsc.ctl.detection.rules.upload(rule.yaml, "bench-marker.yml", "bench");
      await nsc.ctl.playbooks.save(`id: bench-isolate\nname: bench isolate\nwhen:\n  rules: [${rule.id}]\nactions:\n  - type: isolate\napproval: auto\n`, "bench", "create");
    }
    // Let the first snapshots and the hasher warm up, as on a host that has been running.
    await new Promise((r) => setTimeout(r, 2500));

    for (let run = 0; run < RUNS; run++) {
      // A random phase against the process sensor's polling, as a real attack would have.
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1000));
      const t0 = performance.now();
      const wall0 = Date.now();
      const bad = spawn("sh", ["-c", `sleep 300 & wait; : ${marker}`], { stdio: "ignore" });
      const t1 = await mon.next("add", t0, 10_000);
      out.samples.push(t1 - t0);
      const fired = kind === "local" ? firedAfter(agent.output(), wall0) : undefined;
      if (fired !== undefined) {
        out.detectMs.push(fired - wall0);
        out.actMs.push(t1 - t0 - (fired - wall0));
      }

      const table = await topo.host.run(["nft", "list", "table", "inet", "vigil_isolate"]);
      if (!/policy drop/.test(table.stdout)) throw new Error(`run ${run}: isolation table without drop policy:\n${table.stdout}`);
      if (await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT, 500)) throw new Error(`run ${run}: outside still reachable while isolated`);

      const rel = nsc.command(agent.agentId, "release");
      const relId = rel.msg?.$case === "command" ? rel.msg.command.id : "";
      nsc.send(agent.agentId, rel);
      if (!(await waitFor(() => nsc.results.some((r) => r.result.commandId === relId && r.result.status === CommandStatus.COMMAND_STATUS_SUCCEEDED), 10_000)))
        throw new Error(`run ${run}: release failed\n${agent.output().slice(-2000)}`);
      if ((await nftTables(topo.host)).length) throw new Error(`run ${run}: tables left after release`);
      bad.kill("SIGKILL");
      if (kind === "controller") {
        // Close the case so the next run raises a new alert (an open one would absorb it: dedup).
        for (const a of await nsc.ctl.triage.alertQuery.list({ state: "new", limit: 50 })) if (a.caseId) await nsc.ctl.triage.cases.setState(a.caseId, "resolved", "true_positive", "bench");
      }
      console.log(`${kind} run ${run + 1}/${RUNS}: ${(t1 - t0).toFixed(0)} ms${fired !== undefined ? ` (rule fired after ${fired - wall0} ms)` : ""}`);
    }
  } finally {
    mon.proc.kill("SIGKILL");
    await agent.crash();
    await nsc.dispose();
    await topo.destroy();
    rmSync(wallLog, { force: true });
  }
  return out;
}

async function main(): Promise<void> {
  const skip = await netnsUnavailableReason();
  if (skip) {
    console.log(`containment: skipped (${skip})`);
    return;
  }
  const results: PathResult[] = [];
  for (const kind of PATHS) results.push(await runPath(kind));
  const load = loadavg()[0]!.toFixed(1);
  const row = (r: PathResult) => {
    const s = [...r.samples].sort((a, b) => a - b);
    return `| ${r.kind === "local" ? "local policy (the agent decides, also offline)" : "controller (Sigma on the controller → playbook → signed command)"} | ${percentile(s, 50).toFixed(0)} ms | ${percentile(s, 99).toFixed(0)} ms | ${s[0]!.toFixed(0)} ms | ${s[s.length - 1]!.toFixed(0)} ms |`;
  };
  const local = results.find((r) => r.kind === "local");
  const det = [...(local?.detectMs ?? [])].sort((a, b) => a - b);
  const act = [...(local?.actMs ?? [])].sort((a, b) => a - b);
  const worst = results
    .map((r) => [...r.samples].sort((a, b) => a - b))
    .map((s) => ({ p50: percentile(s, 50), p99: percentile(s, 99) }))
    .sort((a, b) => b.p99 - a.p99)[0]!;
  const md = [
    "## Containment",
    "",
    `\`npm run bench:containment -- --sensor ${SENSOR}\` (${machine()}): ${RUNS} runs per path; process events from ${SENSOR === "proc" ? "/proc polling (cheap scan every 250 ms, full snapshot every 1 s)" : "the kernel (eBPF exec tracepoint), falling back to /proc polling if it cannot load"}.`,
    "From the start of a process whose command line matches a rule to `add table inet vigil_isolate` seen by `nft monitor` in the host's network namespace;",
    "every run then verified (drop policy listed, outside peer unreachable) and released by a signed command.",
    "",
    "| path | p50 | p99 | min | max |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...results.map(row),
    "",
    ...(local && det.length
      ? [
          `Local path split by the agent's own log timestamp: start → rule fired p50 ${percentile(det, 50).toFixed(0)} ms, p99 ${percentile(det, 99).toFixed(0)} ms (exec seen by the sensor, exe hash, the pipeline batch of that event-loop turn); fired → table in the kernel p50 ${percentile(act, 50).toFixed(0)} ms, p99 ${percentile(act, 99).toFixed(0)} ms (the isolate action's \`nft -f\` until its table is in the kernel; a kill's /proc walk runs beside it).`,
        ]
      : []),
    `Load average at the end: ${load} on ${cpus().length} cores. Targets (issue #13, with the kernel sensor): local p99 ≤ 100 ms — ${
      local
        ? percentile(
            [...local.samples].sort((a, b) => a - b),
            99,
          ) <= 100
          ? "met"
          : "**not met**"
        : "not run"
    }; controller p99 ≤ 300 ms — ${
      results.find((r) => r.kind === "controller")
        ? percentile(
            [...results.find((r) => r.kind === "controller")!.samples].sort((a, b) => a - b),
            99,
          ) <= 300
          ? "met"
          : "**not met**"
        : "not run"
    }.`,
  ].join("\n");
  writeBenchSection("containment", md);
  for (const r of results) {
    const s = [...r.samples].sort((a, b) => a - b);
    console.log(`${r.kind}: p50 ${percentile(s, 50).toFixed(0)} ms, p99 ${percentile(s, 99).toFixed(0)} ms`);
  }
  // The headline is the slower path.
  console.log(`containment: p50 ${worst.p50.toFixed(0)} ms, p99 ${worst.p99.toFixed(0)} ms`);
}

void main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e);
    process.exit(1);
  },
);
