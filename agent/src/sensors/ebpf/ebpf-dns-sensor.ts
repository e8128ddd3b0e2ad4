import type { DnsEvent } from "@vigil/proto";
import { UserNames } from "../../platform/linux/users";
import { PendingQueries, parseDnsMessage, queryKey, ResolvedNames, TYPE_A, TYPE_AAAA, TYPE_CNAME, typeName, type DnsMessage } from "../dns";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import { subscribeWhenReady, type EbpfHelper } from "./ebpf-helper";
import type { EbpfProcessSensor } from "./ebpf-process-sensor";
import type { EbpfRecord, TaskHead } from "./records";
import { cgroupFields } from "../process/cgroup-fields";

export interface EbpfDnsSensorOptions {
  passwdPath?: string;
  /** DNS events per second at most; beyond it they are counted, not sent (names are still learned). Default 200. */
  maxEventsPerSec?: number;
  /** How long a query waits for its response before it is reported unanswered. Default 5000 ms. */
  waitMs?: number;
  /** Queries waiting for a response at once. Default 1024. */
  maxPending?: number;
  /** The address -> name map the network sensors read; one per host. */
  names?: ResolvedNames;
  now?: () => number;
}

interface SentQuery {
  task: TaskHead;
  server: string;
  name: string;
  type: number;
}

/**
 * DNS lookups of every process, from the kernel sensor's copies of UDP port 53 datagrams: a
 * `dns_query` event per lookup (name, type, answers, the process), and, from the A/AAAA answers,
 * the host's address -> name map that gives outbound connections their DestinationHostname.
 * Everything read here is hostile: the parser is bounded and never throws, malformed messages are
 * counted, and the pending queries, the name map and the event rate all have caps, so a DNS flood
 * costs bounded memory and, past the rate cap, only parsing.
 */
export class EbpfDnsSensor implements Sensor {
  readonly name = "dns";
  readonly names: ResolvedNames;
  private readonly counters = new SensorCounters();
  private readonly users: UserNames;
  private readonly pending: PendingQueries<SentQuery>;
  private readonly maxEventsPerSec: number;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;
  private sink: EventSink | undefined;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Datagrams that did not parse as a DNS query or response. */
  malformed = 0;
  /** Events over the rate cap: counted, not sent. */
  suppressed = 0;

  constructor(
    private readonly helper: EbpfHelper,
    private readonly processes: EbpfProcessSensor,
    options: EbpfDnsSensorOptions = {},
  ) {
    this.users = new UserNames(options.passwdPath);
    this.now = options.now ?? Date.now;
    this.names = options.names ?? new ResolvedNames({ now: this.now });
    this.pending = new PendingQueries({ waitMs: options.waitMs, maxPending: options.maxPending, now: this.now });
    this.maxEventsPerSec = options.maxEventsPerSec ?? 200;
    this.tokens = this.maxEventsPerSec;
    this.refilledAt = this.now();
  }

  async start(sink: EventSink): Promise<void> {
    this.unsubscribe = await subscribeWhenReady(this.helper, this.counters, (r) => this.onRecord(r));
    if (!this.unsubscribe) return;
    this.sink = sink;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    this.counters.running = true;
  }

  async stop(): Promise<void> {
    this.counters.running = false;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    this.sink = undefined;
  }

  health(): SensorHealth {
    const h = this.counters.snapshot(this.name);
    if (!h.running) return h;
    const detail =
      `source: ebpf (UDP port 53: queries and A/AAAA answers; not DNS over TCP, TLS or HTTPS); ` + `${this.names.size} names known, malformed ${this.malformed}, over the rate cap ${this.suppressed}`;
    return { ...h, detail, errors: h.errors + this.malformed };
  }

  /** Ends the wait of queries past it (reported unanswered) and forgets expired names. */
  tick(): void {
    for (const q of this.pending.expired()) this.report(q, undefined);
    this.names.sweep();
  }

  private onRecord(r: EbpfRecord): void {
    if (r.kind !== "dns" || !this.sink) return;
    const parsed = parseDnsMessage(r.payload);
    const m = parsed.message;
    // A query must come from the process, a response to it; anything else on port 53 is not a lookup.
    if (!m || !m.question || m.response === r.sent) {
      this.malformed++;
      return;
    }
    // Answers that stop early are kept; only a cut the sensor did not make (the kernel copies ≤ 512 bytes) is malformed.
    if (m.answersProblem !== undefined && r.payload.length >= r.size) this.malformed++;
    const key = queryKey(r.task.pid, m.id, m.question.name, m.question.type);
    if (r.sent) {
      const query: SentQuery = { task: r.task, server: r.server, name: m.question.name, type: m.question.type };
      for (const old of this.pending.add(key, query)) this.report(old, undefined);
      return;
    }
    const sent = this.pending.take(key);
    // Names only from the answer to a query this process was seen to send: a datagram injected at its
    // port without one (a blind spoof, a query the agent missed) is reported, but names nothing.
    if (sent) this.learn(m, r.task.pid);
    this.report(sent ?? { task: r.task, server: r.server, name: m.question.name, type: m.question.type }, m);
  }

  /** Addresses of the answer section, named by the question (what the process asked for, before CNAMEs). */
  private learn(m: DnsMessage, pid: number): void {
    if (m.rcode !== 0 || !m.question) return;
    for (const a of m.answers) if (a.type === TYPE_A || a.type === TYPE_AAAA) this.names.learn(a.data, m.question.name, a.ttl, pid);
  }

  private report(q: SentQuery, response: DnsMessage | undefined): void {
    const sink = this.sink;
    if (!sink) return;
    if (!this.take()) {
      this.suppressed++;
      return;
    }
    const answers = response?.answers.filter((a) => a.type === TYPE_A || a.type === TYPE_AAAA || a.type === TYPE_CNAME).map((a) => a.data) ?? [];
    const body: DnsEvent = {
      queryName: q.name,
      queryType: typeName(q.type),
      answers,
      answered: response !== undefined,
      rcode: response?.rcode ?? 0,
      server: q.server,
      pid: q.task.pid,
      exe: this.processes.actor(q.task)?.exe ?? "",
      processName: q.task.comm,
      user: this.users.name(q.task.uid),
      // Where the query's sender runs: the query's record names its cgroup (the answer may come seconds later).
      ...cgroupFields(this.processes.placeOf(q.task)),
    };
    try {
      sink.emit({ $case: "dns", dns: body }, this.processes.wallMs(q.task.tsNs));
      this.counters.events++;
    } catch (err) {
      this.counters.errors++;
      this.counters.detail = `emit failed: ${(err as Error).message}`;
    }
  }

  /** The rate cap: a token bucket refilled at maxEventsPerSec, holding at most one second's worth. */
  private take(): boolean {
    if (this.maxEventsPerSec <= 0) return true;
    const now = this.now();
    this.tokens = Math.min(this.maxEventsPerSec, this.tokens + ((now - this.refilledAt) / 1000) * this.maxEventsPerSec);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
