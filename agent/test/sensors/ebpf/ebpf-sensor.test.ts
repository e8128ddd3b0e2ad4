import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, NetworkAction, ProcessAction, type NetworkEvent, type ProcessEvent, type FileEvent } from "@vigil/proto";
import { EbpfHelper, EbpfNetworkSensor, EbpfProcessSensor, FileAttribution } from "../../../src/sensors/ebpf";
import { FileSensor } from "../../../src/sensors/file";
import { NetworkSensor } from "../../../src/sensors/network";
import { RecordingSink, waitFor } from "../process/recorder";

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
});
