import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, FileAction, NetworkAction, ProcessAction, type DnsEvent, type NetworkEvent, type ProcessEvent, type FileEvent } from "@vigil/proto";
import { CgroupDirectory } from "../../../src/platform/linux/cgroup-directory";
import { describeProcCgroup } from "../../../src/platform/linux/cgroup-layout";
import { EbpfDnsSensor, EbpfHelper, EbpfNetworkSensor, EbpfProcessSensor, FileAttribution } from "../../../src/sensors/ebpf";
import { FileSensor } from "../../../src/sensors/file";
import { NetworkSensor } from "../../../src/sensors/network";
import { RecordingSink, waitFor } from "../process/recorder";
import { TestCgroups } from "../../helpers/test-cgroup";

/**
 * The real kernel: dist/vigil-ebpf (built by `npm run build` from agent/native/ebpf with clang and
 * libbpf, which .ci/run installs) loads tracepoint programs, and these tests run real processes,
 * sockets and file writes under it. Needs root and a BTF kernel; skips with the reason otherwise.
 */
const HELPER = resolve(__dirname, "../../../../dist/vigil-ebpf");

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root (loading BPF programs needs CAP_BPF + CAP_PERFMON)";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "kernel without BTF";
  if (!existsSync(HELPER)) return process.env.CI ? null : "dist/vigil-ebpf not built (clang, bpftool, libbpf-dev missing)";
  return null;
}
const skipReason = unavailable();
if (skipReason) console.log(`SKIP eBPF sensor tests: ${skipReason}`);

const processes = (sink: RecordingSink, action: ProcessAction): ProcessEvent[] => sink.events.flatMap((e) => (e.body.$case === "process" && e.body.process.action === action ? [e.body.process] : []));

describe.skipIf(skipReason !== null)("eBPF kernel sensor on the real kernel", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-ebpf-"));
  const watched = join(dir, "watched");
  let helper: EbpfHelper;
  let proc: EbpfProcessSensor;
  let net: EbpfNetworkSensor;
  const sink = new RecordingSink();

  beforeAll(async () => {
    spawnSync("mkdir", ["-p", watched]);
    helper = new EbpfHelper({ path: HELPER, prefixes: [`${watched}/`] });
    proc = new EbpfProcessSensor(helper);
    net = new EbpfNetworkSensor(helper, proc);
    await proc.start(sink);
    await net.start(sink);
    expect(proc.health().running, proc.health().detail).toBe(true);
  });

  afterAll(async () => {
    await net?.stop();
    await proc?.stop();
    await helper?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sees ≥ 99.9% of 2,000 /bin/true runs with their argv and parent", async () => {
    const marker = `vigil-true-${process.pid}`;
    // One shell runs them all, so every exec has the same, known parent.
    const shell = spawn("sh", ["-c", `i=0; while [ $i -lt 2000 ]; do /bin/true ${marker} $i; i=$((i+1)); done`], { stdio: "ignore", cwd: watched });
    const shellPid = shell.pid!;
    await new Promise((r) => shell.on("exit", r));
    const runs = () => processes(sink, ProcessAction.PROCESS_ACTION_START).filter((p) => p.commandLine.startsWith(`/bin/true ${marker} `));
    await waitFor("exec events of the loop", () => (runs().length >= 1998 ? true : undefined), 20_000).catch(() => undefined);
    const seen = runs();
    const distinct = new Set(seen.map((p) => p.commandLine.split(" ")[2]));
    expect(distinct.size / 2000).toBeGreaterThanOrEqual(0.999);
    for (const p of seen.slice(0, 50)) {
      expect(p.exe).toBe("/bin/true");
      expect(p.ppid).toBe(shellPid);
      expect(p.parentExe).toMatch(/(sh|dash|bash)$/);
      expect(p.parentCommandLine).toContain(marker);
      expect(p.user).toBe("root");
      // Gone long before /proc could be read: the directory comes from the kernel's dentries.
      expect(p.cwd).toBe(watched);
    }
    expect(helper.stats.kernelDrops).toBe(0);
  });

  it("names a subshell that never exec'd as the parent of a millisecond child, with the directory it ran in", async () => {
    const marker = `vigil-subshell-${process.pid}`;
    // bash forks a subshell for ( ... ): it never execs, so no exec record ever named it.
    const shell = spawn("bash", ["-c", `(cd ${dir} && /bin/true ${marker} a; /bin/true ${marker} b; :)`], { stdio: "ignore", cwd: "/" });
    await new Promise((r) => shell.on("exit", r));
    const runs = await waitFor("both children", () => {
      const seen = processes(sink, ProcessAction.PROCESS_ACTION_START).filter((p) => p.commandLine.startsWith(`/bin/true ${marker} `));
      return seen.length === 2 ? seen : undefined;
    });
    for (const p of runs) {
      expect(p.ppid).not.toBe(shell.pid);
      expect(p.parentExe, JSON.stringify(p)).toMatch(/bash$/);
      expect(p.parentCommandLine).toContain(marker);
      expect(p.cwd, JSON.stringify(p)).toBe(dir);
    }
    // Across a mount (/dev/shm is a tmpfs of its own): the walk climbs to the mount point and on.
    const shm = spawn("sh", ["-c", `cd /dev/shm && /bin/true ${marker} shm; :`], { stdio: "ignore" });
    await new Promise((r) => shm.on("exit", r));
    const inShm = await waitFor("the child in /dev/shm", () => processes(sink, ProcessAction.PROCESS_ACTION_START).find((p) => p.commandLine === `/bin/true ${marker} shm`));
    expect(inShm.cwd).toBe("/dev/shm");
    // The subshell is not reported as a process of its own: its exit is its parent image's business.
    const exits = processes(sink, ProcessAction.PROCESS_ACTION_EXIT).filter((p) => p.pid === runs[0].ppid);
    expect(exits).toEqual([]);
  });

  it("redacts a Vigil token or API key from the argv of a process that lives a millisecond", async () => {
    const token = `vet_0123456789abcdef_${"E".repeat(43)}`;
    const key = `vk_fedcba9876543210_${"F".repeat(43)}`;
    const marker = `vigil-redact-${process.pid}`;
    const child = spawn("/bin/true", [marker, "--token", token, `--api-key=${key}`], { stdio: "ignore" });
    await new Promise((r) => child.on("exit", r));
    const ev = await waitFor("the exec with the marker", () => processes(sink, ProcessAction.PROCESS_ACTION_START).find((p) => p.commandLine.includes(marker)));
    expect(ev.commandLine).toBe(`/bin/true ${marker} --token vet_0123456789abcdef_[REDACTED] --api-key=vk_fedcba9876543210_[REDACTED]`);
  });

  it("reports the exit with its code and duration, after its start", async () => {
    const child = spawn("sh", ["-c", "exit 7"], { stdio: "ignore" });
    const pid = child.pid!;
    await new Promise((r) => child.on("exit", r));
    const exit = await waitFor("the exit event", () => processes(sink, ProcessAction.PROCESS_ACTION_EXIT).find((p) => p.pid === pid));
    expect(exit.exitCode).toBe(7);
    expect(exit.durationMs).toBeGreaterThanOrEqual(0);
    const startIdx = sink.events.findIndex((e) => e.body.$case === "process" && e.body.process.pid === pid && e.body.process.action === ProcessAction.PROCESS_ACTION_START);
    const exitIdx = sink.events.findIndex((e) => e.body.$case === "process" && e.body.process.pid === pid && e.body.process.action === ProcessAction.PROCESS_ACTION_EXIT);
    expect(startIdx).toBeGreaterThanOrEqual(0);
    expect(exitIdx).toBeGreaterThan(startIdx);
  });

  it("ties each of 200 short TCP connects to a loopback listener to its process", async () => {
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    // Each connect from its own short-lived process (bash's /dev/tcp), as a scanner or a dropper would.
    const script = `i=0; while [ $i -lt 200 ]; do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; i=$((i+1)); done`;
    // Asynchronously: the listener lives in this process and must keep accepting meanwhile.
    const loop = spawn("bash", ["-c", script], { stdio: "ignore" });
    expect(await new Promise((r) => loop.on("exit", r))).toBe(0);
    const connects = () =>
      sink.events.flatMap((e) => (e.body.$case === "network" && e.body.network.remotePort === port && e.body.network.direction === Direction.DIRECTION_OUTBOUND ? [e.body.network] : []));
    await waitFor("200 connect events", () => (connects().length >= 200 ? true : undefined), 10_000).catch(() => undefined);
    const seen: NetworkEvent[] = connects();
    expect(seen.length, `kernel drops ${helper.stats.kernelDrops}`).toBe(200);
    for (const c of seen) {
      expect(c.pid).toBeGreaterThan(0);
      expect(c.exe, JSON.stringify(c)).toMatch(/bash$/);
      expect(c.protocol).toBe("tcp");
      expect(c.remoteAddress).toBe("127.0.0.1");
    }
    // The accepting side, with the listening process (this test's own).
    const accepts = sink.events.flatMap((e) => (e.body.$case === "network" && e.body.network.localPort === port && e.body.network.direction === Direction.DIRECTION_INBOUND ? [e.body.network] : []));
    expect(accepts.length).toBeGreaterThan(0);
    expect(accepts[0].pid, JSON.stringify(accepts[0])).toBe(process.pid);
    server.close();
  });

  it("names the process that wrote a file, though it lived under 10 ms", async () => {
    const attribution = new FileAttribution(helper, proc);
    attribution.start();
    const files = new RecordingSink();
    const fileSensor = new FileSensor({ paths: [watched], settleMs: 20, attribute: (p) => attribution.lookup(p), kernel: attribution });
    await fileSensor.start(files);
    try {
      // With the kernel feed running the sensor holds directory watches, not chokidar's per file.
      expect(fileSensor.health().detail).toContain("changes from the kernel feed");
      const target = join(watched, "dropped");
      // A copy of dd under its own name, so the Image is unmistakably this writer.
      const writer = join(dir, "vigil-writer");
      spawnSync("cp", ["/bin/dd", writer]);
      const t0 = process.hrtime.bigint();
      const r = spawnSync(writer, ["if=/dev/zero", `of=${target}`, "bs=1", "count=16", "status=none"]);
      const livedMs = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(r.status).toBe(0);
      const ev = await waitFor("the file event", () =>
        files.events.flatMap((e) => (e.body.$case === "file" && e.body.file.path === target ? [e.body.file as FileEvent] : [])).find((f) => f.exe !== ""),
      );
      expect(ev.exe).toBe(writer);
      expect(ev.pid).toBeGreaterThan(0);
      expect(ev.user).toBe("root");
      // The writer was gone long before the file sensor looked: only the kernel feed could name it.
      const exit = await waitFor("the writer's exit", () => processes(sink, ProcessAction.PROCESS_ACTION_EXIT).find((p) => p.pid === ev.pid));
      expect(exit.exe).toBe(writer);
      console.log(`writer lived ${exit.durationMs} ms by the kernel's clock (${livedMs.toFixed(1)} ms with Node's spawn)`);
    } finally {
      await fileSensor.stop();
      attribution.stop();
    }
  });

  it("reports a file change the directory watches cannot see, from the kernel feed", async () => {
    const attribution = new FileAttribution(helper, proc);
    attribution.start();
    const root = join(watched, "replaced");
    spawnSync("mkdir", ["-p", root]);
    const files = new RecordingSink();
    const fileSensor = new FileSensor({ paths: [root], settleMs: 20, attribute: (p) => attribution.lookup(p), kernel: attribution });
    await fileSensor.start(files);
    try {
      // The watched directory itself replaced: its inotify watch went with the old one, the tracepoints remain.
      spawnSync("sh", ["-c", `rm -rf ${root} && mkdir ${root} && echo planted > ${root}/planted`]);
      const ev = await waitFor("the file event", () => files.events.flatMap((e) => (e.body.$case === "file" && e.body.file.path === join(root, "planted") ? [e.body.file as FileEvent] : [])).at(0));
      expect(ev.exe).toMatch(/\/sh$/);
    } finally {
      await fileSensor.stop();
      attribution.stop();
    }
  });

  it("reports a file written and removed before it could be read, as CREATE then DELETE, naming its writer", async () => {
    const attribution = new FileAttribution(helper, proc);
    attribution.start();
    const files = new RecordingSink();
    const fileSensor = new FileSensor({ paths: [watched], settleMs: 500, attribute: (p) => attribution.lookup(p), kernel: attribution });
    await fileSensor.start(files);
    try {
      const target = join(watched, "ld.so.preload");
      const writer = join(dir, "vigil-dropper");
      spawnSync("cp", ["/bin/dd", writer]);
      // Written by one short process, removed by another well within the sensor's settle time: nothing is left to hash.
      expect(spawnSync("sh", ["-c", `${writer} if=/dev/zero of=${target} bs=1 count=8 status=none && rm -f ${target}`]).status).toBe(0);
      const seen = () => files.events.flatMap((e) => (e.body.$case === "file" && e.body.file.path === target ? [e.body.file as FileEvent] : []));
      await waitFor("CREATE and DELETE", () => (seen().some((f) => f.action === FileAction.FILE_ACTION_DELETE) ? true : undefined));
      const [created, deleted] = seen();
      expect(created).toMatchObject({ action: FileAction.FILE_ACTION_CREATE, exe: writer, sha256After: "" });
      expect(deleted).toMatchObject({ action: FileAction.FILE_ACTION_DELETE });
      expect(deleted!.exe).toMatch(/\/rm$/);
      // A directory removed under the root (unlinked, never opened for writing) is not a transient file.
      // A file written after it goes through the same queue: once its event is in, the rmdir has been looked at.
      const marker = join(watched, "after-rmdir");
      spawnSync("sh", ["-c", `mkdir ${join(watched, "d")} && rmdir ${join(watched, "d")} && echo kept > ${marker}`]);
      await waitFor("the marker's CREATE", () => files.events.find((e) => e.body.$case === "file" && e.body.file.path === marker));
      expect(files.events.some((e) => e.body.$case === "file" && e.body.file.path === join(watched, "d"))).toBe(false);
    } finally {
      await fileSensor.stop();
      attribution.stop();
    }
  });

  it("a connection made through a fork that never exec'd is still tied to its image", async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    // Node itself connects: its pid is in the table from the /proc seed.
    await new Promise<void>((r) => connect(port, "127.0.0.1", () => r()).on("error", () => r()));
    const ev = await waitFor("the connect", () =>
      sink.events.flatMap((e) => (e.body.$case === "network" && e.body.network.remotePort === port && e.body.network.direction === Direction.DIRECTION_OUTBOUND ? [e.body.network] : [])).at(0),
    );
    expect(ev.pid).toBe(process.pid);
    expect(ev.exe).toBe(process.execPath);
    server.close();
  });

  it("with the kernel feed, the /proc/net poller reads after a socket change, not on its slow timer", async () => {
    // A reconcile far beyond the test: a LISTEN or CLOSE can only be seen through the kernel's records.
    const polled = new RecordingSink();
    const poller = new NetworkSensor({ intervalMs: 100, reconcileMs: 600_000, kernelFeed: () => net.feeding() });
    net.notify(() => poller.changed());
    await poller.start(polled);
    try {
      expect(poller.health().detail).toMatch(/after each socket change the kernel feed reports/);
      const mine = (pred: (e: NetworkEvent) => boolean) => polled.events.flatMap((e) => (e.body.$case === "network" && pred(e.body.network) ? [e.body.network] : [])).at(0);
      const server = createServer((s) => s.on("data", () => {}).on("end", () => s.end()));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as { port: number }).port;
      const listen = await waitFor("LISTEN", () => mine((e) => e.direction === Direction.DIRECTION_LISTEN && e.localPort === port));
      expect(listen.pid).toBe(process.pid);
      // The poller names where the socket's owner runs, from its /proc entry.
      expect(listen.cgroupPath).toBe(describeProcCgroup(readFileSync("/proc/self/cgroup", "utf8")).path);
      const client = connect(port, "127.0.0.1");
      await new Promise<void>((r) => client.once("connect", () => r()));
      const clientPort = client.localPort!;
      // Read after the connect record: the connection is known, so its end can be reported.
      await waitFor("the poller's read after the connect", () => (poller.stats().open > 0 && mine((e) => e.localPort === port && e.remotePort === clientPort) ? true : undefined));
      const readsBefore = poller.stats().reads;
      await new Promise<void>((r) => client.end(() => client.once("close", () => r())));
      const closed = await waitFor("outbound CLOSE", () => mine((e) => e.action === NetworkAction.NETWORK_ACTION_CLOSE && e.localPort === clientPort));
      expect(closed).toMatchObject({ remotePort: port, pid: process.pid });
      expect(poller.stats().reads).toBeGreaterThan(readsBefore);
      server.close();
      // A listener's end is a state change too (LISTEN to CLOSE).
      await waitFor("the listener's CLOSE", () => mine((e) => e.action === NetworkAction.NETWORK_ACTION_CLOSE && e.direction === Direction.DIRECTION_LISTEN && e.localPort === port));
    } finally {
      await poller.stop();
      net.notify(() => {});
    }
  });
  it("names the container of a process in a cgroup laid out like Docker's, and none for a process outside", async () => {
    const root = proc.cgroups.root;
    expect(root, "the cgroup2 mount, from /proc/self/mountinfo").not.toBeNull();
    const cgroups = new TestCgroups(root!);
    const id = "5eed".repeat(16);
    const docker = `/vigil-test-${process.pid}.slice/docker-${id}.scope`;
    const containerd = `/vigil-test-${process.pid}.slice/cri-containerd-${id}.scope`;
    cgroups.make(docker);
    cgroups.make(containerd);
    const marker = `vigil-cgroup-${process.pid}`;
    try {
      // A shell moves itself into the scope (as a runtime puts a container's init there), then runs
      // two short commands: the shell is still alive when the records are read.
      const inside = spawn("sh", ["-c", `echo $$ > ${root}${docker}/cgroup.procs && /bin/true ${marker} docker-1; /bin/true ${marker} docker-2`], { stdio: "ignore" });
      // Here the shell becomes the command (exec): the cgroup's only process is the one reported,
      // gone in a millisecond, and its parent (this test) is in another cgroup. (Whether it is named
      // from its /proc entry before it is reaped, or by a walk, is a race; both paths are tested on
      // the real mount in agent/test/platform/linux/cgroup-directory.test.ts.)
      const gone = spawn("sh", ["-c", `echo $$ > ${root}${containerd}/cgroup.procs && exec /bin/true ${marker} containerd`], { stdio: "ignore" });
      const outside = spawn("/bin/true", [`${marker}`, "outside"], { stdio: "ignore" });
      await Promise.all([inside, gone, outside].map((c) => new Promise((r) => c.on("exit", r))));
      const started = (tag: string) => processes(sink, ProcessAction.PROCESS_ACTION_START).find((p) => p.commandLine === `/bin/true ${marker} ${tag}`);
      for (const tag of ["docker-1", "docker-2"]) {
        const p = await waitFor(tag, () => started(tag));
        expect(p, JSON.stringify(p)).toMatchObject({ containerId: id, containerRuntime: "docker", cgroupPath: docker, systemdUnit: `docker-${id}.scope`, podUid: "" });
        // The kernel's id is the directory's inode: the two name the same cgroup.
        expect(BigInt(p.cgroupId)).toBe(statSync(`${root}${docker}`, { bigint: true }).ino);
      }
      const execd = await waitFor("the exec'd shell", () => started("containerd"));
      expect(execd, JSON.stringify(execd)).toMatchObject({ containerId: id, containerRuntime: "containerd", cgroupPath: containerd });
      const out = await waitFor("the process outside", () => started("outside"));
      expect(out.containerId).toBe("");
      expect(out.containerRuntime).toBe("");
      expect(out.cgroupPath).toBe(describeProcCgroup(readFileSync("/proc/self/cgroup", "utf8")).path);
      // The exit carries what the start named.
      const exit = await waitFor("docker-1's exit", () => processes(sink, ProcessAction.PROCESS_ACTION_EXIT).find((p) => p.commandLine === `/bin/true ${marker} docker-1`));
      expect(exit).toMatchObject({ containerId: id, containerRuntime: "docker", cgroupPath: docker });
      expect(proc.health().detail).toMatch(/cgroups: \d+ known, \d+ walks, 0 unnamed/);
    } finally {
      await cgroups.remove();
    }
  });
  it("names the container a file write, a connection and a DNS query came from", async () => {
    const root = proc.cgroups.root!;
    const cgroups = new TestCgroups(root);
    // One cgroup for each way in, so neither is named by the other's exec.
    const ids = { execd: "c0de".repeat(16), moved: "c1de".repeat(16) };
    const scope = (way: keyof typeof ids) => `/system.slice/docker-${ids[way]}.scope`;
    const procs = (way: keyof typeof ids) => `${cgroups.make(scope(way))}/cgroup.procs`;
    const attribution = new FileAttribution(helper, proc);
    attribution.start();
    const files = new RecordingSink();
    const fileSensor = new FileSensor({ paths: [watched], settleMs: 20, attribute: (p) => attribution.lookup(p), kernel: attribution });
    await fileSensor.start(files);
    const dns = new EbpfDnsSensor(helper, proc, { waitMs: 200 });
    await dns.start(sink);
    const server = createServer((c) => c.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    // Moves itself into the cgroup first when told its cgroup.procs; then writes, connects, and asks
    // a DNS server (127.0.0.77:53, where none listens: the query is reported unanswered).
    const script = `
const fs = require("fs"), net = require("net"), dgram = require("dgram");
const [procs, file, port, name] = process.argv.slice(1);
if (procs) fs.writeFileSync(procs, String(process.pid));
fs.writeFileSync(file, "written from inside\\n");
const c = net.connect(Number(port), "127.0.0.1", () => {
  c.destroy();
  const q = Buffer.concat([Buffer.from([0x51, 0x51, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
  const u = dgram.createSocket("udp4");
  u.on("error", () => {});
  u.send(q, 53, "127.0.0.77", () => setTimeout(() => u.close(), 50));
});`;
    const tag = `ctr-${process.pid}`;
    try {
      // Two ways in: a shell that moves itself and execs (a container's init: its exec names the
      // cgroup), and a process that moves itself after its exec (as docker exec's setns does).
      const execd = spawn(
        "sh",
        ["-c", `echo $$ > ${procs("execd")} && exec "$0" -e "$1" "" "$2" "$3" "$4"`, process.execPath, script, join(watched, `${tag}-execd`), String(port), `execd.${tag}.vigil-test.example`],
        {
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      const moved = spawn(process.execPath, ["-e", script, procs("moved"), join(watched, `${tag}-moved`), String(port), `moved.${tag}.vigil-test.example`], { stdio: ["ignore", "ignore", "pipe"] });
      let errors = "";
      for (const c of [execd, moved]) c.stderr!.on("data", (b: Buffer) => (errors += b.toString()));
      const codes = await Promise.all([execd, moved].map((c) => new Promise((r) => c.on("exit", r))));
      expect(codes, errors).toEqual([0, 0]);
      // This test's own connection: a process from the /proc seed, outside any container.
      await new Promise<void>((r) => connect(port, "127.0.0.1", () => r()).on("error", () => r()));
      for (const way of ["execd", "moved"] as const) {
        const inside = { containerId: ids[way], containerRuntime: "docker", cgroupPath: scope(way), systemdUnit: `docker-${ids[way]}.scope`, podUid: "" };
        const file = await waitFor(`${way}: the file event`, () =>
          files.events.flatMap((e) => (e.body.$case === "file" && e.body.file.path === join(watched, `${tag}-${way}`) ? [e.body.file as FileEvent] : [])).find((f) => f.exe !== ""),
        );
        expect(file, JSON.stringify(file)).toMatchObject({ exe: process.execPath, ...inside });
        const pid = file.pid;
        const conn = await waitFor(`${way}: the connect`, () =>
          sink.events.flatMap((e) => (e.body.$case === "network" && e.body.network.remotePort === port && e.body.network.pid === pid ? [e.body.network] : [])).at(0),
        );
        expect(conn, JSON.stringify(conn)).toMatchObject({ direction: Direction.DIRECTION_OUTBOUND, ...inside });
        const query = await waitFor(`${way}: the DNS query`, () =>
          sink.events.flatMap((e) => (e.body.$case === "dns" && e.body.dns.queryName === `${way}.${tag}.vigil-test.example` ? [e.body.dns as DnsEvent] : [])).at(0),
        );
        expect(query, JSON.stringify(query)).toMatchObject({ pid, answered: false, ...inside });
      }
      const own = await waitFor("this test's connect", () =>
        sink.events.flatMap((e) => (e.body.$case === "network" && e.body.network.remotePort === port && e.body.network.pid === process.pid ? [e.body.network] : [])).at(0),
      );
      expect(own.containerId).toBe("");
      expect(own.cgroupPath).toBe(describeProcCgroup(readFileSync("/proc/self/cgroup", "utf8")).path);
    } finally {
      server.close();
      await dns.stop();
      await fileSensor.stop();
      attribution.stop();
      await cgroups.remove();
    }
  });
  it("on a host without a cgroup2 mount, names the container from /proc while the process lives", async () => {
    // A second sensor on the same helper, told there is no cgroup2 mount (as on a v1-only host).
    const v1Only = new EbpfProcessSensor(helper, { cgroups: new CgroupDirectory({ root: null }) });
    const own = new RecordingSink();
    await v1Only.start(own);
    const cgroups = new TestCgroups(proc.cgroups.root!);
    const id = "0ddc".repeat(16);
    const path = `/vigil-test-v1-${process.pid}.slice/docker-${id}.scope`;
    const scope = cgroups.make(path);
    const marker = `vigil-v1-${process.pid}`;
    const sleeper = spawn("sh", ["-c", `echo $$ > ${scope}/cgroup.procs && exec sleep 30 ${marker}`], { stdio: "ignore" });
    try {
      const ev = await waitFor("the sleep", () => processes(own, ProcessAction.PROCESS_ACTION_START).find((p) => p.commandLine === `sleep 30 ${marker}`));
      expect(ev).toMatchObject({ containerId: id, containerRuntime: "docker", cgroupPath: path });
      expect(v1Only.health().detail).toContain("no cgroup2 mount: cgroups read from /proc while the process lives");
    } finally {
      sleeper.kill("SIGKILL");
      if (sleeper.exitCode === null && sleeper.signalCode === null) await new Promise((r) => sleeper.once("exit", r));
      await v1Only.stop();
      await cgroups.remove();
    }
  });
});
