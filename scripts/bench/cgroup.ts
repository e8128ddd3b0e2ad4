/**
 * What naming a process's cgroup adds per exec (issue #13): the eBPF sensor's path for a cgroup
 * already seen (one cache lookup and the event's five fields), the first exec of a new cgroup
 * (/proc/<pid>/cgroup of a live process, checked by the directory's inode), a walk of the cgroup2
 * mount with N extra cgroups made for the bench, the parser on ordinary and on hostile 4 KiB paths,
 * and the /proc and audit sources' read of /proc/<pid>/cgroup. And per file, network or DNS event
 * (placeOf): the record's cgroup in the cache, the process table's word for an id not named yet,
 * and the first event from a cgroup no exec named (a process older than the agent, or one moved after its exec).
 *
 *   sudo npx tsx scripts/bench/cgroup.ts [--cgroups 1000]
 *
 * Needs root and a cgroup2 mount (it creates and removes /vigil-bench-<pid>.slice/...).
 * The last line is: cgroup: hit <ns> ns/exec, new cgroup <µs> µs, walk of <N> cgroups <ms> ms, parse <ns> ns/path, place <ns> ns/event
 */
import { mkdirSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CgroupDirectory } from "../../agent/src/platform/linux/cgroup-directory";
import { describeCgroup, MAX_CGROUP_PATH } from "../../agent/src/platform/linux/cgroup-layout";
import { Procfs } from "../../agent/src/platform/linux/procfs";
import { cgroupFields, procCgroup } from "../../agent/src/sensors/process/cgroup-fields";
import { EbpfProcessSensor } from "../../agent/src/sensors/ebpf/ebpf-process-sensor";
import type { EbpfHelper } from "../../agent/src/sensors/ebpf/ebpf-helper";
import type { TaskHead } from "../../agent/src/sensors/ebpf/records";
import { machine } from "./lib/report";

const { values } = parseArgs({ options: { cgroups: { type: "string", default: "1000" } } });
const EXTRA = Number(values.cgroups);
const ID = "0123456789abcdef".repeat(4);

function perOp(n: number, op: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 10_000); i++) op(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  return Number(process.hrtime.bigint() - t) / n;
}

async function main(): Promise<void> {
  const probe = new CgroupDirectory();
  if (process.getuid?.() !== 0 || probe.root === null) throw new Error("needs root and a cgroup2 mount");
  const root = probe.root;
  const slice = `/vigil-bench-${process.pid}.slice`;
  const made: string[] = [];
  const make = (p: string): string => {
    mkdirSync(join(root, p));
    made.push(join(root, p));
    return join(root, p);
  };
  make(slice);
  const scope = make(`${slice}/docker-${ID}.scope`);
  for (let i = 0; i < EXTRA; i++) make(`${slice}/unit-${i}.service`);
  const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
  try {
    writeFileSync(join(scope, "cgroup.procs"), String(sleeper.pid));
    const id = statSync(scope, { bigint: true }).ino;

    // First exec in a new cgroup: a live process names it (a fresh directory each time, so never cached).
    const FIRST = 2000;
    let t = process.hrtime.bigint();
    for (let i = 0; i < FIRST; i++) await new CgroupDirectory({ root }).resolve(id, [sleeper.pid!]);
    const firstUs = Number(process.hrtime.bigint() - t) / FIRST / 1000;

    // Every later exec in it: the lookup and the event's fields.
    const dir = new CgroupDirectory({ root });
    await dir.resolve(id, [sleeper.pid!]);
    const hitNs = perOp(2_000_000, () => cgroupFields(dir.lookup(id)));

    // A walk: nothing alive names the id.
    const WALKS = 5;
    t = process.hrtime.bigint();
    for (let i = 0; i < WALKS; i++) await new CgroupDirectory({ root }).resolve(id);
    const walkMs = Number(process.hrtime.bigint() - t) / WALKS / 1e6;
    const walked = new CgroupDirectory({ root });
    await walked.resolve(id);

    const paths = [
      `/system.slice/docker-${ID}.scope`,
      "/system.slice/nginx.service",
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6a3c0c0e_8a4b_4b8e_9c1d_2f3e4a5b6c7d.slice/cri-containerd-${ID}.scope`,
    ];
    const parseNs = perOp(500_000, (i) => describeCgroup(paths[i % paths.length]!));
    const hostileSegments: string[] = [];
    while (hostileSegments.join("/").length < MAX_CGROUP_PATH - 300) hostileSegments.push(`${"a.".repeat(115)}servic`, `docker-${"a".repeat(64)}.scop`);
    const hostile = `/${hostileSegments.join("/")}`;
    const hostileUs = perOp(20_000, () => describeCgroup(hostile)) / 1000;

    // Per file, network or DNS event: placeOf (no helper needed: it reads the cache and the table).
    const sensorOn = (cgroups: CgroupDirectory) => new EbpfProcessSensor({} as EbpfHelper, { cgroups });
    const task = (cgroupId: bigint): TaskHead => ({ pid: sleeper.pid!, tid: sleeper.pid!, ppid: process.pid, uid: 0, euid: 0, tsNs: 0, startNs: 0, cgroupId, comm: "sleep" });
    const placed = sensorOn(dir);
    const placeHitNs = perOp(2_000_000, () => cgroupFields(placed.placeOf(task(id))));
    // An id nothing named yet (looked for in /proc less than a second ago): the actor's table entry.
    const unnamed = sensorOn(new CgroupDirectory({ root, minWalkIntervalMs: 3_600_000 }));
    unnamed.table.set({ pid: sleeper.pid!, ppid: process.pid, exe: "/usr/bin/sleep", commandLine: "sleep 60", uid: 0, startTimeMs: 0, cgroup: dir.lookup(id) });
    const stranger = task(id + 1_000_000n);
    unnamed.placeOf(stranger);
    const placeTableNs = perOp(2_000_000, () => cgroupFields(unnamed.placeOf(stranger)));
    // The first event from a cgroup no exec named (an older process, or one moved after its exec): named from its /proc entry.
    const fresh = Array.from({ length: FIRST }, () => sensorOn(new CgroupDirectory({ root })));
    t = process.hrtime.bigint();
    for (const sensor of fresh) sensor.placeOf(task(id));
    const placeFirstUs = Number(process.hrtime.bigint() - t) / FIRST / 1000;

    const procfs = new Procfs();
    const procReadUs = perOp(20_000, () => procCgroup(procfs, sleeper.pid!)) / 1000;

    console.log(machine());
    console.log(`cached cgroup, per exec (lookup + 5 event fields): ${hitNs.toFixed(0)} ns`);
    console.log(`first exec of a new cgroup, named from /proc/<pid>/cgroup + inode check: ${firstUs.toFixed(1)} µs`);
    console.log(`walk of the cgroup2 mount (${walked.stats.entries} cgroups): ${walkMs.toFixed(1)} ms`);
    console.log(`parse, ordinary paths: ${parseNs.toFixed(0)} ns/path; hostile ${hostile.length}-char path of near-misses: ${hostileUs.toFixed(1)} µs`);
    console.log(`/proc and audit sources, /proc/<pid>/cgroup read + parse per new process: ${procReadUs.toFixed(1)} µs`);
    console.log(`file, network or DNS event (placeOf + 5 event fields): cgroup in the cache ${placeHitNs.toFixed(0)} ns; id not named yet, the table's word ${placeTableNs.toFixed(0)} ns`);
    console.log(`first event from a cgroup no exec named, from /proc/<pid>/cgroup + inode check: ${placeFirstUs.toFixed(1)} µs`);
    console.log(
      `cgroup: hit ${hitNs.toFixed(0)} ns/exec, new cgroup ${firstUs.toFixed(1)} µs, walk of ${walked.stats.entries} cgroups ${walkMs.toFixed(1)} ms, parse ${parseNs.toFixed(0)} ns/path, place ${placeHitNs.toFixed(0)} ns/event`,
    );
  } finally {
    sleeper.kill("SIGKILL");
    await new Promise((r) => sleeper.once("exit", r));
    for (const d of made.reverse()) {
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(d);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
