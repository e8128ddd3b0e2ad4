import { credentials, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { AgentServiceClient, Backoff, Event, type AgentMessage, type ControllerMessage } from "@vigil/proto";
import { newKeyRequest } from "../../../agent/src/enroll/key-request";
import { enrollRpc } from "../../../agent/src/enroll/enroll-client";

/** An enrolled identity: the agent id the controller chose and the client certificate it issued. */
export interface FleetIdentity {
  agentId: string;
  keyPem: string;
  certPem: string;
}

/** Enrolls `n` identities the way the agent does (key pair, CSR, Enroll RPC over TLS pinned to the CA), `concurrency` at a time. */
export async function enrollFleet(address: string, caPem: string, token: string, n: number, concurrency = 8): Promise<FleetIdentity[]> {
  const out: FleetIdentity[] = new Array<FleetIdentity>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const { keyPem, csrDer } = await newKeyRequest(`fleet-${i}`);
      const c = await enrollRpc(address, caPem, { token, csrDer, hostname: `fleet-${i}` }, 60_000);
      out[i] = { agentId: c.agentId, keyPem, certPem: c.certificatePem };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

export interface SimAgentOptions {
  id: FleetIdentity;
  caPem: string;
  /** Replica gRPC addresses; the agent starts at `first` and moves to the next one whenever its stream breaks. */
  addresses: string[];
  first: number;
  /** Events to produce in all (seq 1..total). */
  total: number;
  /** Events produced per tick, and the tick. */
  perTick: number;
  tickMs: number;
  /** Largest batch sent at once (after an outage the backlog goes in batches of this). */
  maxBatch?: number;
  /** Reconnect delay range (ms). */
  reconnectMs?: [number, number];
  /**
   * Reconnect as the real agent does instead (ControllerLink: full-jitter exponential backoff from
   * 500 ms up to 30 s, reset once welcomed). A fleet retrying every few seconds whatever happens
   * makes a loaded controller's handshake storm worse than real agents would.
   */
  agentBackoff?: boolean;
  event?: (seq: number, agentIndex: number) => Event;
  index: number;
  /** Every `every` ticks (randomly phased) `size` extra events: a burst (a cron job, a build, a login storm). */
  burst?: { every: number; size: number };
}

/** What one simulated agent saw. */
export interface SimAgentState {
  agentId: string;
  produced: number;
  acked: number;
  connects: number;
  /** Welcomes that resumed below what this agent had been acked: the controller forgot an ack (would be a false gap). */
  forgotten: number;
  errors: number;
}

type Stream = ClientDuplexStream<AgentMessage, ControllerMessage>;

/**
 * A simulated agent over real mTLS gRPC: it produces numbered events on a timer, keeps what is
 * not acked (as the agent's spool does), sends one batch at a time, and after a broken stream
 * reconnects to the next replica and resends from the controller's welcome position. It is not
 * the agent binary (200 or 10,000 agent processes cannot run here); it speaks the same protocol.
 */
export class SimAgent implements SimAgentState {
  agentId: string;
  produced = 0;
  acked = 0;
  connects = 0;
  forgotten = 0;
  errors = 0;
  /** Produce time of each unacked event (index seq - acked - 1), for latency. */
  private producedAt: number[] = [];
  private sentUpTo = 0;
  private ticks = 0;
  private client?: InstanceType<typeof AgentServiceClient>;
  private stream?: Stream;
  private welcomed = false;
  private stopped = false;
  private addr: number;
  private tickTimer?: NodeJS.Timeout;
  private readonly backoff = new Backoff();
  private readonly creds: ReturnType<typeof credentials.createSsl>;

  constructor(
    private readonly o: SimAgentOptions,
    private readonly onAckLatency?: (ms: number, events: number) => void,
  ) {
    this.agentId = o.id.agentId;
    this.addr = o.first % o.addresses.length;
    this.creds = credentials.createSsl(Buffer.from(o.caPem), Buffer.from(o.id.keyPem), Buffer.from(o.id.certPem));
  }

  start(): void {
    this.connect();
    const tick = () => {
      if (this.stopped) return;
      this.ticks++;
      const burst = this.o.burst && (this.ticks + this.o.index) % this.o.burst.every === 0 ? this.o.burst.size : 0;
      const n = Math.min(this.o.perTick + burst, this.o.total - this.produced);
      const now = Date.now();
      for (let i = 0; i < n; i++) this.producedAt.push(now);
      this.produced += n;
      this.pump();
      if (this.produced < this.o.total) this.tickTimer = setTimeout(tick, this.o.tickMs);
    };
    // Spread the fleet's ticks so 10,000 agents do not fire in the same millisecond.
    this.tickTimer = setTimeout(tick, Math.floor(Math.random() * this.o.tickMs));
  }

  /** Welcomed on a live stream right now. */
  get connected(): boolean {
    return this.welcomed && this.stream !== undefined;
  }

  get done(): boolean {
    return this.acked >= this.o.total;
  }

  private connect(): void {
    if (this.stopped) return;
    this.connects++;
    this.welcomed = false;
    this.sentUpTo = this.acked;
    const client = new AgentServiceClient(this.o.addresses[this.addr], this.creds, { "grpc.max_receive_message_length": 64 * 1024 * 1024 });
    const stream = client.connect();
    this.client = client;
    this.stream = stream;
    stream.on("data", (m: ControllerMessage) => this.onMessage(stream, m));
    const broken = (err?: ServiceError) => {
      if (this.stream !== stream) return;
      if (err) this.errors++;
      this.stream = undefined;
      client.close();
      if (this.stopped) return;
      this.addr = (this.addr + 1) % this.o.addresses.length;
      const [lo, hi] = this.o.reconnectMs ?? [100, 500];
      setTimeout(() => this.connect(), this.o.agentBackoff ? this.backoff.next() : lo + Math.random() * (hi - lo));
    };
    stream.on("error", (e: ServiceError) => broken(e));
    stream.on("end", () => broken());
    stream.write({
      msg: {
        $case: "hello",
        hello: {
          agentId: this.agentId,
          hostname: `fleet-${this.o.index}`,
          os: "linux",
          kernel: "sim",
          agentVersion: "sim",
          ipAddresses: [],
          tags: [],
          bootTimeMs: 0,
          lastSeq: this.produced,
          arch: "x86_64",
        },
      },
    });
  }

  private onMessage(stream: Stream, m: ControllerMessage): void {
    if (this.stream !== stream) return;
    const body = m.msg;
    if (body?.$case === "welcome") {
      const at = body.welcome.ackedSeq;
      if (at < this.acked) this.forgotten++;
      else if (at > this.acked) this.ack(at);
      this.sentUpTo = this.acked;
      this.welcomed = true;
      this.backoff.reset();
      this.pump();
    } else if (body?.$case === "ack") {
      this.ack(body.ack.seq);
      this.pump();
    }
  }

  private ack(seq: number): void {
    const n = Math.min(seq, this.produced) - this.acked;
    if (n <= 0) return;
    const now = Date.now();
    const times = this.producedAt.splice(0, n);
    if (this.onAckLatency && times.length) this.onAckLatency(now - times[0], n);
    this.acked += n;
  }

  /** One batch in flight: send the next unacked events once the previous batch is acked. */
  private pump(): void {
    const s = this.stream;
    if (!s || !this.welcomed || this.sentUpTo > this.acked || this.acked >= this.produced) return;
    const from = this.acked + 1;
    const to = Math.min(this.produced, this.acked + (this.o.maxBatch ?? 200));
    const events: Event[] = [];
    for (let seq = from; seq <= to; seq++) events.push(this.o.event ? this.o.event(seq, this.o.index) : defaultEvent(seq, this.o.index));
    this.sentUpTo = to;
    s.write({ msg: { $case: "events", events: { firstSeq: from, events } } });
  }

  stop(): void {
    this.stopped = true;
    if (this.tickTimer) clearTimeout(this.tickTimer);
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
    this.client?.close();
  }
}

function defaultEvent(seq: number, i: number): Event {
  return Event.fromPartial({ seq, eventTimeMs: Date.now(), body: { $case: "agent", agent: { kind: "synthetic", message: `synthetic n=${seq}`, attributes: { n: String(seq), host: String(i) } } } });
}
