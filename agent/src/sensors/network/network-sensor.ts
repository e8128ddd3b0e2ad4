import { Direction, NetworkAction, type NetworkEvent } from "@vigil/proto";
import { Procfs } from "../../platform/linux/procfs";
import { UserNames } from "../../platform/linux/users";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import { NET_TABLES, parseNetTable, type SocketEntry } from "../../platform/linux/proc-net";
import { SocketOwners } from "./socket-owners";
import { readSocketBytes } from "./socket-bytes";
import { cgroupFields, procCgroup } from "../process/cgroup-fields";

export interface NetworkSensorOptions {
  /**
   * True for a connection the kernel sensor already reported with its process (sensors/ebpf): its
   * OPEN is not sent twice. Its CLOSE still is, with the state and bytes only polling knows.
   */
  alreadyReported?: (remoteAddress: string, remotePort: number, pid: number) => boolean;
  /** Time between table reads. Default 2000 ms. */
  intervalMs?: number;
  /**
   * True while a kernel feed reports socket changes (sensors/ebpf: connect, accept, TCP state
   * changes) and calls changed() for each. Tables are then read only after a change (at most every
   * intervalMs) and every reconcileMs, instead of every intervalMs: an idle host's sockets are not
   * walked in the kernel every 2 s for nothing. Without it, or while it returns false (the helper
   * stopped or restarts), every intervalMs as before.
   */
  kernelFeed?: () => boolean;
  /** With a kernel feed: the longest time between two table reads. Default 30000 ms. */
  reconcileMs?: number;
  procRoot?: string;
  passwdPath?: string;
  /**
   * Leave out sockets no process holds (inode 0: TIME_WAIT and orphaned
   * closing sockets). They are the tail of a connection already reported and
   * would double the events on a busy host. Default true.
   */
  skipTimeWait?: boolean;
  /** Report sockets already open at start. Default false: the first table is the baseline. */
  emitInitial?: boolean;
  /**
   * How often byte counters of established TCP connections that leave the host
   * are refreshed through `ss` (0 turns it off). Only runs while such
   * connections exist. A transfer shorter than this may report partial counts.
   * Default 10000 ms.
   */
  bytesIntervalMs?: number;
  /** The `ss` binary (iproute2). */
  ssPath?: string;
  /** Count loopback connections too (tests; loopback traffic never leaves the host). */
  bytesLoopback?: boolean;
  /** The name a recent DNS answer gave an address (the DNS sensor's map): an outbound connection's remoteHostname. */
  hostnames?: (address: string, pid: number) => string | undefined;
}

/** An open socket as reported at OPEN, reused verbatim for its CLOSE. */
type Connection = Omit<NetworkEvent, "action">;

export function connectionKey(e: SocketEntry): string {
  return `${e.protocol}|${e.localAddress}|${e.localPort}|${e.remoteAddress}|${e.remotePort}|${e.inode}`;
}

function isListening(e: SocketEntry): boolean {
  // An unconnected UDP socket with no peer is UDP's equivalent of a listener.
  return e.state === "LISTEN" || (e.state === "UNCONN" && e.remotePort === 0);
}

const family = (p: string): string => (p.startsWith("tcp") ? "tcp" : "udp");
const isLoopback = (a: string): boolean => a.startsWith("127.") || a === "::1";

/**
 * Open and closed sockets from diffed /proc/net tables of the agent's network
 * namespace. A connection that opens and closes between two reads is not seen.
 * Byte counts are not in /proc/net (only sock_diag netlink has them): they come
 * from `ss` every few seconds for connections that leave the host, and a CLOSE
 * carries the last counts seen.
 */
export class NetworkSensor implements Sensor {
  readonly name = "network";
  private readonly counters = new SensorCounters();
  private readonly procfs: Procfs;
  private readonly users: UserNames;
  private readonly owners: SocketOwners;
  private readonly intervalMs: number;
  private readonly skipTimeWait: boolean;
  private open = new Map<string, Connection>();
  private sink: EventSink | undefined;
  /** Standing limitation (e.g. not root), kept visible in health() next to the latest error. */
  private summary = "";
  private timer: NodeJS.Timeout | undefined;
  private lastCycleMs = 0;
  /** performance.now() of the last table read. */
  private lastReadAt = -Infinity;
  /** The kernel feed reported a socket change since the last read. */
  private dirty = false;
  private reads = 0;
  private readonly reconcileMs: number;
  private readonly bytesIntervalMs: number;
  private lastBytesAt = 0;
  private bytesBusy = false;
  private bytesRefreshes = 0;

  constructor(private readonly options: NetworkSensorOptions = {}) {
    this.procfs = new Procfs(options.procRoot);
    this.users = new UserNames(options.passwdPath);
    this.owners = new SocketOwners(this.procfs);
    this.intervalMs = options.intervalMs ?? 2000;
    this.skipTimeWait = options.skipTimeWait ?? true;
    this.reconcileMs = options.reconcileMs ?? 30_000;
    this.bytesIntervalMs = options.bytesIntervalMs ?? 10_000;
  }

  async start(sink: EventSink): Promise<void> {
    if (this.counters.running) return;
    this.sink = sink;
    this.counters.running = true;
    // Polling: what it sees is what is open at each poll.
    this.summary = this.options.kernelFeed
      ? `reading ${this.options.procRoot ?? "/proc"}/net/{tcp,tcp6,udp,udp6} after each socket change the kernel feed reports (at most every ${this.intervalMs} ms) and every ${this.reconcileMs} ms; every ${this.intervalMs} ms while the feed is down`
      : `polling ${this.options.procRoot ?? "/proc"}/net/{tcp,tcp6,udp,udp6} every ${this.intervalMs} ms: connections opened and closed between polls are missed`;
    if (process.getuid?.() !== 0) this.summary += "; not root: sockets of other users' processes have no pid";
    this.counters.detail = this.summary;
    this.cycle(this.options.emitInitial ?? false);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.counters.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.sink = undefined;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  /** The kernel feed saw a socket open, close or change state: the next tick reads the tables. */
  changed(): void {
    this.dirty = true;
  }

  stats(): { open: number; reads: number; lastCycleMs: number; ownerSearches: number; pidsVisited: number; lastOwnerSearchMs: number; bytesRefreshes: number } {
    const o = this.owners;
    return {
      open: this.open.size,
      reads: this.reads,
      lastCycleMs: this.lastCycleMs,
      ownerSearches: o.searches,
      pidsVisited: o.pidsVisited,
      lastOwnerSearchMs: o.lastSearchMs,
      bytesRefreshes: this.bytesRefreshes,
    };
  }

  /** Every tick without a kernel feed; with one, after a change it reported, or when a reconcile is due. */
  private due(): boolean {
    if (!this.options.kernelFeed?.()) return true;
    return this.dirty || performance.now() - this.lastReadAt >= this.reconcileMs - this.intervalMs / 2;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (!this.counters.running) return;
      try {
        if (this.due()) this.cycle(true);
        // Byte counters keep their own interval whether or not the tables were read.
        else this.refreshBytes(Date.now());
      } catch (err) {
        this.fail(`table read failed: ${(err as Error).message}`);
      }
      this.schedule();
    }, this.intervalMs);
    this.timer.unref();
  }

  private readTables(): SocketEntry[] {
    const all: SocketEntry[] = [];
    for (const protocol of NET_TABLES) {
      const { entries, bad } = parseNetTable(protocol, this.procfs.netTable(protocol));
      if (bad > 0) this.fail(`${bad} unparsable row(s) in /proc/net/${protocol}`, bad);
      for (const e of entries) {
        if (e.inode === 0 && (this.skipTimeWait || e.state !== "TIME_WAIT")) continue;
        all.push(e);
      }
    }
    return all;
  }

  private cycle(emit: boolean): void {
    const t0 = performance.now();
    // Cleared before the read: a change reported while it runs is in this read or the next.
    this.dirty = false;
    this.lastReadAt = t0;
    this.reads++;
    const entries = this.readTables();
    const listeningPorts = new Set<string>();
    for (const e of entries) if (isListening(e)) listeningPorts.add(`${family(e.protocol)}:${e.localPort}`);

    const next = new Map<string, Connection>();
    const fresh: [string, SocketEntry][] = [];
    for (const e of entries) {
      const key = connectionKey(e);
      const known = this.open.get(key);
      if (known) {
        // Keep the latest state so CLOSE shows how the connection ended (e.g. CLOSE_WAIT).
        known.state = e.state;
        next.set(key, known);
      } else fresh.push([key, e]);
    }
    if (fresh.length > 0) this.owners.resolve(fresh.map(([, e]) => e.inode));
    const now = Date.now();
    for (const [key, e] of fresh) {
      const conn = this.describe(e, listeningPorts);
      next.set(key, conn);
      if (emit && !this.options.alreadyReported?.(conn.remoteAddress, conn.remotePort, conn.pid)) this.emit(NetworkAction.NETWORK_ACTION_OPEN, conn, now);
    }
    for (const [key, conn] of this.open) {
      if (!next.has(key)) this.emit(NetworkAction.NETWORK_ACTION_CLOSE, conn, now);
    }
    this.open = next;
    this.owners.retain(new Set(entries.map((e) => e.inode)));
    this.lastCycleMs = performance.now() - t0;
    this.refreshBytes(now);
  }

  /** Updates the open connections' byte counters in place, so a later CLOSE carries them. */
  private refreshBytes(now: number): void {
    if (this.bytesIntervalMs <= 0 || this.bytesBusy || now - this.lastBytesAt < this.bytesIntervalMs) return;
    const leaving = [...this.open.values()].some((c) => c.protocol.startsWith("tcp") && c.state === "ESTABLISHED" && (this.options.bytesLoopback || !isLoopback(c.remoteAddress)));
    if (!leaving) return;
    this.bytesBusy = true;
    this.lastBytesAt = now;
    void readSocketBytes(this.options.ssPath, { loopback: this.options.bytesLoopback }).then(({ bytes, error }) => {
      this.bytesBusy = false;
      this.bytesRefreshes++;
      if (error) {
        this.fail(`byte counters unavailable: ${error}`);
        return;
      }
      for (const [key, conn] of this.open) {
        const b = bytes.get(Number(key.slice(key.lastIndexOf("|") + 1)));
        if (!b) continue;
        conn.bytesSent = b.sent;
        conn.bytesReceived = b.received;
      }
    });
  }

  private describe(e: SocketEntry, listeningPorts: Set<string>): Connection {
    let direction: Direction;
    if (isListening(e)) direction = Direction.DIRECTION_LISTEN;
    else if (listeningPorts.has(`${family(e.protocol)}:${e.localPort}`)) direction = Direction.DIRECTION_INBOUND;
    else direction = Direction.DIRECTION_OUTBOUND;

    const pid = this.owners.owner(e.inode) ?? 0;
    const identity = pid > 0 ? this.procfs.identity(pid) : undefined;
    return {
      protocol: e.protocol,
      localAddress: e.localAddress,
      localPort: e.localPort,
      remoteAddress: e.remoteAddress,
      remotePort: e.remotePort,
      state: e.state,
      direction,
      pid,
      processName: pid > 0 ? this.procfs.comm(pid) : "",
      exe: identity?.exe ?? "",
      // The socket's owner uid comes from the table itself, so it is known even when the pid is not.
      user: this.users.name(e.uid),
      bytesSent: 0,
      bytesReceived: 0,
      remoteHostname: direction === Direction.DIRECTION_OUTBOUND ? (this.options.hostnames?.(e.remoteAddress, pid) ?? "") : "",
      // Where the owner runs, read with its identity once per new connection (CLOSE reuses it); empty when no pid.
      ...cgroupFields(pid > 0 ? procCgroup(this.procfs, pid) : undefined),
    };
  }

  private emit(action: NetworkAction, conn: Connection, timeMs: number): void {
    const sink = this.sink;
    if (!sink) return;
    try {
      sink.emit({ $case: "network", network: { action, ...conn } }, timeMs);
      this.counters.events++;
    } catch (err) {
      this.fail(`emit failed: ${(err as Error).message}`);
    }
  }

  private fail(message: string, count = 1): void {
    this.counters.errors += count;
    this.counters.detail = this.summary ? `${this.summary}; last error: ${message}` : message;
  }
}
