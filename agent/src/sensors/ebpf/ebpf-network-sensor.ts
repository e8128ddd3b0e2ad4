import { Direction, NetworkAction, type NetworkEvent } from "@vigil/proto";
import { UserNames } from "../../platform/linux/users";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import { subscribeWhenReady, type EbpfHelper } from "./ebpf-helper";
import type { EbpfProcessSensor } from "./ebpf-process-sensor";
import type { EbpfRecord } from "./records";
import { cgroupFields } from "../process/cgroup-fields";

const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;

/** How long a kernel-reported connection is remembered, so the /proc poller does not report it again. */
const REMEMBER_MS = 10 * 60_000;
const REMEMBER_MAX = 50_000;

export function connectionKey(remoteAddress: string, remotePort: number, pid: number): string {
  return `${remoteAddress}|${remotePort}|${pid}`;
}

/**
 * Every connect() and accept() on an IPv4/IPv6 socket, with the process that made it, from the
 * syscall tracepoints: a curl that lives 5 ms is still tied to its connection. Connect records are
 * attempts (the syscall's entry); whether the peer answered is for the /proc poller's state to say.
 */
export class EbpfNetworkSensor implements Sensor {
  readonly name = "network-kernel";
  private readonly counters = new SensorCounters();
  private readonly users: UserNames;
  private sink: EventSink | undefined;
  private unsubscribe: (() => void) | undefined;
  /** key -> when reported; insertion order is age order. */
  private readonly reported = new Map<string, number>();
  /** Told of every socket change the kernel reports (the /proc poller reads its tables then). */
  private onChange: () => void = () => {};
  /** The name a recent DNS answer gave an address (the DNS sensor's map), for outbound connections. */
  private readonly hostnames: ((address: string, pid: number) => string | undefined) | undefined;

  constructor(
    private readonly helper: EbpfHelper,
    private readonly processes: EbpfProcessSensor,
    options: { passwdPath?: string; hostnames?: (address: string, pid: number) => string | undefined } = {},
  ) {
    this.users = new UserNames(options.passwdPath);
    this.hostnames = options.hostnames;
  }

  async start(sink: EventSink): Promise<void> {
    this.unsubscribe = await subscribeWhenReady(this.helper, this.counters, (r) => this.onRecord(r));
    if (!this.unsubscribe) return;
    this.sink = sink;
    this.counters.running = true;
    this.counters.detail = "source: ebpf (connect, accept)";
  }

  async stop(): Promise<void> {
    this.counters.running = false;
    this.unsubscribe?.();
    this.sink = undefined;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  /**
   * True while connect, accept and TCP state records flow: the helper runs. While it restarts
   * (records are lost then), false, so the /proc poller goes back to its fixed interval.
   */
  feeding(): boolean {
    return this.counters.running && this.helper.status === "";
  }

  /** Calls `listener` on every socket change the kernel reports. */
  notify(listener: () => void): void {
    this.onChange = listener;
  }

  /** True when the kernel feed already reported this connection (for the /proc poller to skip its OPEN). */
  alreadyReported(remoteAddress: string, remotePort: number, pid: number): boolean {
    return this.reported.has(connectionKey(remoteAddress, remotePort, pid));
  }

  private onRecord(r: EbpfRecord): void {
    if (r.kind === "sock") return this.onChange();
    if (r.kind !== "connect" || !this.sink) return;
    const proto = r.socktype === SOCK_DGRAM ? "udp" : r.socktype === SOCK_STREAM ? "tcp" : "";
    if (proto === "") return; // raw or unknown sockets: not a connection
    const actor = this.processes.actor(r.task);
    const body: NetworkEvent = {
      action: NetworkAction.NETWORK_ACTION_OPEN,
      protocol: r.family === 6 ? `${proto}6` : proto,
      localAddress: "",
      localPort: r.inbound ? r.localPort : 0,
      remoteAddress: r.address,
      remotePort: r.port,
      state: r.inbound ? "ESTABLISHED" : proto === "tcp" ? "SYN_SENT" : "",
      direction: r.inbound ? Direction.DIRECTION_INBOUND : Direction.DIRECTION_OUTBOUND,
      pid: r.task.pid,
      processName: r.task.comm,
      exe: actor?.exe ?? "",
      user: this.users.name(r.task.uid),
      bytesSent: 0,
      bytesReceived: 0,
      remoteHostname: r.inbound ? "" : (this.hostnames?.(r.address, r.task.pid) ?? ""),
      ...cgroupFields(this.processes.placeOf(r.task)),
    };
    this.remember(connectionKey(r.address, r.port, r.task.pid));
    try {
      this.sink.emit({ $case: "network", network: body }, this.processes.wallMs(r.task.tsNs));
      this.counters.events++;
    } catch (err) {
      this.counters.errors++;
      this.counters.detail = `emit failed: ${(err as Error).message}`;
    }
    // After the OPEN went out (and was remembered): the poller's read then skips it.
    this.onChange();
  }

  private remember(key: string): void {
    const now = Date.now();
    this.reported.delete(key);
    this.reported.set(key, now);
    for (const [k, at] of this.reported) {
      if (this.reported.size <= REMEMBER_MAX && now - at < REMEMBER_MS) break;
      this.reported.delete(k);
    }
  }
}
