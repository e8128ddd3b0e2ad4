import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, type DnsEvent, type NetworkEvent } from "@vigil/proto";
import { EbpfDnsSensor, EbpfHelper, EbpfNetworkSensor, EbpfProcessSensor } from "../../../src/sensors/ebpf";
import type { EbpfRecord } from "../../../src/sensors/ebpf/records";
import { createTopology, netnsUnavailableReason, type NetTopology } from "../../helpers/netns";
import { RecordingSink, waitFor } from "../process/recorder";

/**
 * DNS seen by the kernel sensor, end to end on the real kernel: a DNS server (a few lines of
 * node:dgram) in one network namespace answers A records for a test name; processes in another
 * namespace, whose /etc/resolv.conf points at it (`ip netns exec` mounts /etc/netns/<ns>/), look
 * the name up and connect to the answer. The tracepoints see the datagrams of every namespace.
 * Needs root, a BTF kernel, dist/vigil-ebpf and iproute2; skips with the reason otherwise.
 */
const HELPER = resolve(__dirname, "../../../../dist/vigil-ebpf");
const NAME = "app.vigil-test.example";
const PORT = 8080;

async function unavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return "not root (loading BPF programs needs CAP_BPF + CAP_PERFMON)";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "kernel without BTF";
  if (!existsSync(HELPER)) return process.env.CI ? null : "dist/vigil-ebpf not built (clang, bpftool, libbpf-dev missing)";
  return netnsUnavailableReason();
}
const skipReason = await unavailable();
if (skipReason) console.log(`SKIP eBPF DNS tests: ${skipReason}`);

/**
 * A DNS server: A records for argv[1] -> argv[2], NOERROR without answers for its other types,
 * NXDOMAIN for other names. Asked for bait.<anything>, it first sends a forged answer nobody asked
 * for (another id and name, naming 10.9.9.9), as a spoofer racing the real server would.
 */
const SERVER = `
const s = require("dgram").createSocket("udp4");
const [name, ip] = process.argv.slice(1);
s.on("message", (q, from) => {
  if (q.length < 17 || q.readUInt16BE(4) !== 1) return;
  let p = 12; const labels = [];
  while (p < q.length && q[p] !== 0 && labels.length < 20) { labels.push(q.toString("latin1", p + 1, p + 1 + q[p])); p += 1 + q[p]; }
  const known = labels.join(".").toLowerCase() === name, type = q.readUInt16BE(p + 1);
  const ans = known && type === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip.split(".").map(Number)]) : Buffer.alloc(0);
  if (labels[0] === "bait") {
    const forged = Buffer.from("99998180000100010000000006666f72676564000001000 1c00c000100010000003c00040a090909".replace(/ /g, ""), "hex");
    s.send(forged, from.port, from.address);
  }
  const h = Buffer.from(q.subarray(0, 12));
  h.writeUInt16BE(known ? 0x8180 : 0x8183, 2); h.writeUInt16BE(ans.length ? 1 : 0, 6); h.writeUInt32BE(0, 8);
  s.send(Buffer.concat([h, q.subarray(12, p + 5), ans]), from.port, from.address);
});
s.bind(53, "0.0.0.0", () => process.stdout.write("ready\\n"));`;

/** A client on an unconnected socket (sendmsg/recvmsg with addresses, as libuv does): a query and
 * its answer, garbage to port 53, a query to an address where nothing answers, then a flood. */
const CLIENT = `
const s = require("dgram").createSocket("udp4");
const [server, silent, floodN] = process.argv.slice(1);
const query = (id, name, type) => Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
  ...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, type, 0, 1])]);
const send = (b, ip) => new Promise((r) => s.send(b, 53, ip, r));
(async () => {
  const answered = new Promise((r) => s.once("message", r));
  await send(query(0x4242, "${NAME}", 1), server);
  await answered;
  const twoAnswers = new Promise((r) => { let n = 0; s.on("message", function m() { if (++n === 2) { s.off("message", m); r(); } }); });
  await send(query(0x4444, "bait.vigil-test.example", 1), server);
  await twoAnswers;
  await send(Buffer.from("not a dns message at all"), server);
  await send(query(0x4343, "silent.vigil-test.example", 1), silent);
  let got = 0; const all = new Promise((r) => s.on("message", () => { if (++got === Number(floodN)) r(); }));
  for (let i = 0; i < Number(floodN); i++) await send(query(i, "f" + i + ".flood.vigil-test.example", 16), server);
  await Promise.race([all, new Promise((r) => setTimeout(r, 1000))]);
  process.stdout.write("done " + got + "\\n"); s.close();
})();`;

function run(argv: string[]): Promise<{ code: number | null; out: string; pid: number }> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  return new Promise((r) => child.on("exit", (code) => r({ code, out, pid: child.pid! })));
}

describe.skipIf(skipReason !== null)("eBPF DNS sensor on the real kernel, across network namespaces", () => {
  let topo: NetTopology;
  let server: ChildProcess;
  let helper: EbpfHelper;
  let proc: EbpfProcessSensor;
  let dns: EbpfDnsSensor;
  let net: EbpfNetworkSensor;
  let resolvConfDir = "";
  const sink = new RecordingSink();
  const dnsEvents = (): DnsEvent[] => sink.events.flatMap((e) => (e.body.$case === "dns" ? [e.body.dns] : []));
  const outbound = (port: number): NetworkEvent[] =>
    sink.events.flatMap((e) => (e.body.$case === "network" && e.body.network.remotePort === port && e.body.network.direction === Direction.DIRECTION_OUTBOUND ? [e.body.network] : []));

  beforeAll(async () => {
    topo = await createTopology(["client", "dns", "silent"]);
    const { client, dns: dnsNode } = topo.nodes as Record<string, NonNullable<(typeof topo.nodes)[string]>>;
    resolvConfDir = `/etc/netns/${client!.ns}`;
    mkdirSync(resolvConfDir, { recursive: true });
    writeFileSync(`${resolvConfDir}/resolv.conf`, `nameserver ${dnsNode!.ip4}\noptions timeout:1 attempts:1\n`);
    server = spawn("ip", ["netns", "exec", dnsNode!.ns, process.execPath, "-e", SERVER, NAME, dnsNode!.ip4], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((r, reject) => {
      server.stdout!.on("data", (b: Buffer) => b.toString().includes("ready") && r());
      server.on("exit", (code) => reject(new Error(`DNS server exited (${code})`)));
    });
    await topo.listen(dnsNode!, PORT);
    helper = new EbpfHelper({ path: HELPER, prefixes: [] });
    proc = new EbpfProcessSensor(helper);
    // A short wait, and caps small enough for the flood below to reach them.
    dns = new EbpfDnsSensor(helper, proc, { waitMs: 300, maxEventsPerSec: 100, maxPending: 64 });
    net = new EbpfNetworkSensor(helper, proc, { hostnames: (a, pid) => dns.names.nameOf(a, pid) });
    await proc.start(sink);
    await dns.start(sink);
    await net.start(sink);
    expect(dns.health().running, dns.health().detail).toBe(true);
  }, 30_000);

  afterAll(async () => {
    server?.kill("SIGKILL");
    await net?.stop();
    await dns?.stop();
    await proc?.stop();
    await helper?.stop();
    await topo?.destroy();
    if (resolvConfDir) rmSync(resolvConfDir, { recursive: true, force: true });
  });

  it("glibc's lookup (connected socket, sendmmsg/recvfrom) gives a dns_query event, and the connect that follows its DestinationHostname", async () => {
    const { client, dns: dnsNode } = topo.nodes;
    const ip = dnsNode!.ip4;
    const got = await run(["ip", "netns", "exec", client!.ns, "getent", "ahostsv4", NAME]);
    expect(got.out).toContain(ip);
    // bash resolves and connects in one process: /dev/tcp calls getaddrinfo, then connect.
    const conn = await run(["ip", "netns", "exec", client!.ns, "bash", "-c", `exec 3<>/dev/tcp/${NAME}/${PORT}`]);
    expect(conn.code, conn.out).toBe(0);

    const c = await waitFor("the connect to the answered address", () => outbound(PORT).find((e) => e.remoteAddress === ip));
    expect(c.remoteHostname).toBe(NAME);
    expect(c.exe).toMatch(/bash$/);
    const q = await waitFor("bash's A lookup", () => dnsEvents().find((e) => e.queryName === NAME && e.queryType === "A" && e.pid === c.pid));
    expect(q).toMatchObject({ answers: [ip], answered: true, rcode: 0, server: ip, processName: "bash", user: "root" });
    expect(q.exe).toMatch(/bash$/);
    const getent = dnsEvents().find((e) => e.queryName === NAME && e.processName === "getent");
    expect(getent, JSON.stringify(dnsEvents())).toMatchObject({ answers: [ip], answered: true });
  });

  it("reports NXDOMAIN with its code, and names nothing from it", async () => {
    const { client } = topo.nodes;
    const got = await run(["ip", "netns", "exec", client!.ns, "getent", "ahostsv4", "missing.vigil-test.example"]);
    expect(got.code).not.toBe(0);
    const q = await waitFor("the NXDOMAIN", () => dnsEvents().find((e) => e.queryName === "missing.vigil-test.example"));
    expect(q).toMatchObject({ answered: true, rcode: 3, answers: [] });
  });

  it("sensors: {dns: false} leaves the DNS programs out: the same lookup gives the helper no record", async () => {
    const quiet = new EbpfHelper({ path: HELPER, prefixes: [], dns: false });
    const records: EbpfRecord[] = [];
    quiet.subscribe((r) => records.push(r));
    try {
      expect(await quiet.start()).toBeUndefined();
      expect(quiet.stats.programs).toBe(helper.stats.programs - 7);
      const { client } = topo.nodes;
      const before = dnsEvents().filter((e) => e.processName === "getent").length;
      await run(["ip", "netns", "exec", client!.ns, "getent", "ahostsv4", NAME]);
      // Both helpers saw getent run; only the full one saw its lookup.
      await waitFor("the lookup on the full helper", () => (dnsEvents().filter((e) => e.processName === "getent").length > before ? true : undefined));
      await waitFor("getent's exec on the quiet helper", () => records.find((r) => r.kind === "exec" && r.filename.endsWith("/getent")));
      expect(records.filter((r) => r.kind === "dns")).toEqual([]);
    } finally {
      await quiet.stop();
    }
  });

  it("an unconnected socket (sendmsg/recvmsg): answered, unanswered and garbage; a flood stays within the caps", async () => {
    const { client, dns: dnsNode, silent } = topo.nodes;
    const floodN = 1500;
    const malformedBefore = dns.malformed;
    const r = await run(["ip", "netns", "exec", client!.ns, process.execPath, "-e", CLIENT, dnsNode!.ip4, silent!.ip4, String(floodN)]);
    expect(r.out).toMatch(/^done \d+/);
    console.log(`client: ${r.out.trim()}`);
    const q = await waitFor("node's lookup", () => dnsEvents().find((e) => e.queryName === NAME && e.processName === "node"));
    expect(q).toMatchObject({ answers: [dnsNode!.ip4], answered: true, server: dnsNode!.ip4, pid: r.pid });
    const silentQ = await waitFor("the unanswered query, after its wait", () => dnsEvents().find((e) => e.queryName === "silent.vigil-test.example"));
    expect(silentQ).toMatchObject({ answered: false, server: silent!.ip4, queryType: "A" });
    expect(dns.malformed).toBeGreaterThan(malformedBefore);
    // The forged answer nobody asked for is reported, and names nothing.
    const forged = await waitFor("the forged answer", () => dnsEvents().find((e) => e.queryName === "forged" && e.pid === r.pid));
    expect(forged.answers).toEqual(["10.9.9.9"]);
    expect(dns.names.nameOf("10.9.9.9", r.pid)).toBeUndefined();

    // The flood: at most 100 events a second reach the pipeline, the rest are counted; memory stays capped.
    await waitFor("the flood's responses handled", () => (dns.suppressed > 0 ? true : undefined));
    const flood = dnsEvents().filter((e) => e.queryName.endsWith(".flood.vigil-test.example"));
    expect(flood.length).toBeLessThan(floodN);
    expect(flood.length + dns.suppressed + helper.stats.kernelDrops).toBeGreaterThanOrEqual(floodN);
    expect(dns.health().detail).toMatch(/over the rate cap [1-9]/);
    console.log(`flood of ${floodN}: ${flood.length} events, ${dns.suppressed} over the cap, kernel drops ${helper.stats.kernelDrops}; ${dns.health().detail}`);
  }, 30_000);
});
