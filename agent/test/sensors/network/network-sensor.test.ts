import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Direction, NetworkAction, type NetworkEvent } from "@vigil/proto";
import { decodeAddress, NetworkSensor, parseNetTable } from "../../../src/sensors/network";
import { parseSsOutput, readSocketBytes } from "../../../src/sensors/network/socket-bytes";
import { RecordingSink, waitFor } from "../process/recorder";

function find(sink: RecordingSink, match: (e: NetworkEvent) => boolean): NetworkEvent | undefined {
  for (const e of sink.events) if (e.body.$case === "network" && match(e.body.network)) return e.body.network;
  return undefined;
}

/** A listener in a child process, so its pid differs from the client's (ours). */
async function startListener(host: string): Promise<{ child: ChildProcess; port: number }> {
  const code = `const s=require("net").createServer(c=>c.on("data",()=>{}).on("end",()=>c.end()));s.listen(0,${JSON.stringify(host)},()=>console.log(s.address().port));`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(child.stdout!, "data")) as [Buffer];
  return { child, port: Number(line.toString().trim()) };
}

describe("NetworkSensor against the real /proc/net", () => {
  let sensor: NetworkSensor | undefined;
  const cleanup: (() => void)[] = [];
  afterEach(async () => {
    await sensor?.stop();
    for (const c of cleanup.splice(0)) c();
  });

  it("reports LISTEN, outbound and inbound OPEN with ports, direction and pid, then CLOSE", async () => {
    const sink = new RecordingSink();
    sensor = new NetworkSensor({ intervalMs: 100 });
    await sensor.start(sink);
    // Health says how it sees: by polling, so what opens and closes between polls is missed.
    expect(sensor.health().detail).toMatch(/^polling \/proc\/net\/\{tcp,tcp6,udp,udp6\} every 100 ms: connections opened and closed between polls are missed/);
    const { child, port } = await startListener("127.0.0.1");
    cleanup.push(() => child.kill("SIGKILL"));

    const listen = await waitFor("LISTEN", () => find(sink, (e) => e.direction === Direction.DIRECTION_LISTEN && e.localPort === port));
    expect(listen).toMatchObject({ action: NetworkAction.NETWORK_ACTION_OPEN, protocol: "tcp", localAddress: "127.0.0.1", state: "LISTEN", pid: child.pid, processName: "node" });

    const client: Socket = connect(port, "127.0.0.1");
    await once(client, "connect");
    const clientPort = client.localPort!;
    const outbound = await waitFor("outbound OPEN", () => find(sink, (e) => e.direction === Direction.DIRECTION_OUTBOUND && e.localPort === clientPort));
    expect(outbound).toMatchObject({ action: NetworkAction.NETWORK_ACTION_OPEN, remoteAddress: "127.0.0.1", remotePort: port, state: "ESTABLISHED", pid: process.pid });
    const inbound = await waitFor("inbound OPEN", () => find(sink, (e) => e.direction === Direction.DIRECTION_INBOUND && e.remotePort === clientPort));
    expect(inbound).toMatchObject({ localPort: port, remoteAddress: "127.0.0.1", pid: child.pid, processName: "node" });
    expect(inbound.exe).toBe(outbound.exe);

    client.end();
    await once(client, "close");
    const closedOut = await waitFor("outbound CLOSE", () => find(sink, (e) => e.action === NetworkAction.NETWORK_ACTION_CLOSE && e.localPort === clientPort));
    expect(closedOut).toMatchObject({ remotePort: port, pid: process.pid });
    await waitFor("inbound CLOSE", () => find(sink, (e) => e.action === NetworkAction.NETWORK_ACTION_CLOSE && e.remotePort === clientPort && e.localPort === port));

    child.kill("SIGTERM");
    await waitFor("listener CLOSE", () => find(sink, (e) => e.action === NetworkAction.NETWORK_ACTION_CLOSE && e.direction === Direction.DIRECTION_LISTEN && e.localPort === port));
    // No TIME_WAIT rows leak through as extra OPENs for our ports.
    const ours = sink.events.filter((e) => e.body.$case === "network" && (e.body.network.localPort === clientPort || e.body.network.localPort === port) && e.body.network.state === "TIME_WAIT");
    expect(ours).toHaveLength(0);
  });

  it("reports an IPv6 listener with a compressed address", async () => {
    const sink = new RecordingSink();
    sensor = new NetworkSensor({ intervalMs: 100 });
    await sensor.start(sink);
    const { child, port } = await startListener("::1");
    cleanup.push(() => child.kill("SIGKILL"));
    const listen = await waitFor("tcp6 LISTEN", () => find(sink, (e) => e.localPort === port));
    expect(listen).toMatchObject({ protocol: "tcp6", localAddress: "::1", direction: Direction.DIRECTION_LISTEN, pid: child.pid });
  });

  it("reports a bound UDP socket as a listener of this process", async () => {
    const sink = new RecordingSink();
    sensor = new NetworkSensor({ intervalMs: 100 });
    await sensor.start(sink);
    const sock = createSocket("udp4");
    cleanup.push(() => sock.close());
    sock.bind(0, "127.0.0.1");
    await once(sock, "listening");
    const port = sock.address().port;
    const ev = await waitFor("udp LISTEN", () => find(sink, (e) => e.protocol === "udp" && e.localPort === port));
    expect(ev).toMatchObject({ state: "UNCONN", direction: Direction.DIRECTION_LISTEN, pid: process.pid, localAddress: "127.0.0.1" });
  });

  it("decodes /proc/net addresses, including v4-mapped v6, and skips malformed rows", () => {
    expect(decodeAddress("0100007F")).toBe("127.0.0.1");
    expect(decodeAddress("0000000000000000FFFF00000100007F")).toBe("127.0.0.1");
    expect(decodeAddress("00000000000000000000000001000000")).toBe("::1");
    expect(decodeAddress("B80D0120000000000000000001000000")).toBe("2001:db8::1");
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1",
      "   1: garbage",
      "   2: 0100007F:0050 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 1235 1",
    ].join("\n");
    const { entries, bad } = parseNetTable("tcp", table);
    expect(bad).toBe(1);
    expect(entries).toEqual([
      { protocol: "tcp", localAddress: "127.0.0.1", localPort: 80, remoteAddress: "0.0.0.0", remotePort: 0, state: "LISTEN", uid: 0, inode: 1234 },
      { protocol: "tcp", localAddress: "127.0.0.1", localPort: 80, remoteAddress: "127.0.0.2", remotePort: 0xd431, state: "ESTABLISHED", uid: 1000, inode: 1235 },
    ]);
  });

  it("a CLOSE carries the bytes the connection sent, from the kernel's per-socket counters (ss)", async () => {
    const sink = new RecordingSink();
    // Loopback counted here only because this machine has no other network to send over.
    sensor = new NetworkSensor({ intervalMs: 100, bytesIntervalMs: 100, bytesLoopback: true });
    await sensor.start(sink);
    const { child, port } = await startListener("127.0.0.1");
    cleanup.push(() => child.kill("SIGKILL"));
    const client = connect(port, "127.0.0.1");
    await once(client, "connect");
    const clientPort = client.localPort!;
    await waitFor("the outbound OPEN", () => find(sink, (e) => e.action === NetworkAction.NETWORK_ACTION_OPEN && e.localPort === clientPort));
    const chunk = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 12; i++) if (!client.write(chunk)) await once(client, "drain");
    // Hold the connection open until the peer has acknowledged all of it, then until the sensor has refreshed once more.
    let acked = false;
    const poll = setInterval(
      () =>
        void readSocketBytes("ss", { loopback: true }).then(({ bytes }) => {
          for (const b of bytes.values()) if (b.sent >= 12 * chunk.length) acked = true;
        }),
      50,
    );
    try {
      await waitFor("the peer to acknowledge 3 MiB", () => acked || undefined);
    } finally {
      clearInterval(poll);
    }
    const seen = sensor.stats().bytesRefreshes;
    await waitFor("a byte-counter refresh after that", () => sensor!.stats().bytesRefreshes >= seen + 2 || undefined);
    client.end();
    const closed = await waitFor("the CLOSE", () => find(sink, (e) => e.action === NetworkAction.NETWORK_ACTION_CLOSE && e.localPort === clientPort));
    expect(closed.direction).toBe(Direction.DIRECTION_OUTBOUND);
    expect(closed.bytesSent).toBeGreaterThanOrEqual(3 * 1024 * 1024);
  });

  it("parses ss output into per-inode counters", () => {
    const text = [
      "0      0      10.0.0.5:40000 93.184.216.34:443 ino:399023 sk:1 cgroup:/ <->",
      "\t ts sack bbr wscale:10,10 rto:204 bytes_sent:2042 bytes_acked:2043 bytes_received:3492 segs_out:9",
      "0      0      10.0.0.5:40002 93.184.216.34:443 ino:399024 sk:2 cgroup:/ <->",
      "\t ts sack cubic bytes_sent:10 bytes_received:20",
      "garbage without inode",
      "\t bytes_sent:99",
    ].join("\n");
    expect([...parseSsOutput(text)]).toEqual([
      [399023, { sent: 2043, received: 3492 }],
      [399024, { sent: 10, received: 20 }],
    ]);
  });
});
