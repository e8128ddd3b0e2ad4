import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { TelemetryState } from "./agent-health";

/** What one replica says about an agent whose stream it holds. */
export interface PresenceEntry {
  agentId: string;
  lastSeen: number;
  telemetry: TelemetryState;
  telemetryReason: string | null;
  clockOffsetMs: number | null;
}

/** An agent held by another replica, as this one last heard. */
export interface RemoteAgent extends PresenceEntry {
  replica: string;
}

/** What the registry asks: is this agent connected to another replica, and how is it. */
export interface RemoteAgents {
  find(agentId: string): RemoteAgent | undefined;
}

/** The local side: the agents whose streams this replica holds, and when that changes. */
export interface LocalPresenceSource {
  localAgents(): PresenceEntry[];
  /** One of them (a connect is announced alone: no scan of thousands per connect). */
  localAgent(agentId: string): PresenceEntry | undefined;
  onConnectionChange(l: (agentId: string, online: boolean) => void): void;
}

export interface PresenceOptions {
  /** How often each replica announces every agent it holds. */
  beatMs: number;
  /** A replica not heard from for this long is gone, and its agents with it. */
  ttlMs: number;
  /** Entries per message: a snapshot of thousands of agents goes out in parts. */
  partSize: number;
  onRejected?: (reason: string) => void;
}

export const DEFAULT_PRESENCE_OPTIONS: PresenceOptions = { beatMs: 2_000, ttlMs: 7_000, partSize: 1_000 };

type Kind = "beat" | "up" | "down" | "bye" | "sync";

/** Wire form of an entry: [agentId, lastSeen, telemetry, reason, clockOffsetMs]. */
type WireEntry = [string, number, TelemetryState, string | null, number | null];

interface PresenceMessage {
  v: 1;
  r: string;
  k: Kind;
  /** beat: snapshot generation, part index and part count. */
  g?: number;
  p?: number;
  n?: number;
  a?: WireEntry[];
}

const MAX_MESSAGE_BYTES = 512 * 1024;
const MAX_ENTRIES = 5_000;
const MAX_PARTS = 1_000;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TELEMETRY = new Set<string>(["ok", "refused", "stalled"]);
const KINDS = new Set<string>(["beat", "up", "down", "bye", "sync"]);

interface ReplicaView {
  lastHeard: number;
  agents: Map<string, PresenceEntry>;
  /** A snapshot whose parts are still arriving. */
  building?: { gen: number; parts: number; seen: Set<number>; agents: Map<string, PresenceEntry> };
}

/**
 * Which replica holds which agent's stream, so `GET /agents` on any replica shows who is online.
 *
 * Core NATS, no storage: each replica announces a connect or disconnect at once, and every
 * `beatMs` its whole set (in parts); a replica silent for `ttlMs` (killed) is dropped with its
 * agents, one that stops cleanly says so. A replica that starts asks the others to announce at once.
 * Messages from one publisher arrive in order, so a snapshot never overtakes a later change.
 * Everything read back is bounded and checked; a bad message is counted and ignored.
 */
export class ClusterPresence implements RemoteAgents {
  private readonly replicas = new Map<string, ReplicaView>();
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  private local?: LocalPresenceSource;
  private gen = 0;
  private syncPending = false;
  private readonly opts: PresenceOptions;
  readonly rejected = { count: 0 };

  constructor(
    private readonly nc: Pick<NatsConnection, "publish" | "subscribe">,
    private readonly subject: string,
    readonly replicaId: string,
    opts: Partial<PresenceOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULT_PRESENCE_OPTIONS, ...opts };
  }

  /** Starts listening and announcing what `local` holds. */
  start(local: LocalPresenceSource): void {
    this.local = local;
    this.sub = this.nc.subscribe(this.subject, { callback: (err, msg) => (err ? undefined : this.receive(msg)) });
    local.onConnectionChange((agentId, online) => {
      if (online) {
        const e = this.local?.localAgent(agentId);
        if (e) this.send({ v: 1, r: this.replicaId, k: "up", a: [wire(e)] });
      } else this.send({ v: 1, r: this.replicaId, k: "down", a: [[agentId, this.now(), "ok", null, null]] });
    });
    this.send({ v: 1, r: this.replicaId, k: "sync" });
    this.beat();
    this.timer = setInterval(() => this.beat(), this.opts.beatMs);
    this.timer.unref();
  }

  /** Says goodbye so the others drop this replica's agents now rather than after the TTL. */
  stop(): void {
    clearInterval(this.timer);
    if (this.sub) this.send({ v: 1, r: this.replicaId, k: "bye" });
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  find(agentId: string): RemoteAgent | undefined {
    let best: RemoteAgent | undefined;
    const now = this.now();
    for (const [replica, view] of this.replicas) {
      if (now - view.lastHeard > this.opts.ttlMs) {
        this.replicas.delete(replica);
        continue;
      }
      const e = view.agents.get(agentId);
      // During a move both replicas may list it briefly: the one that heard from it last wins.
      if (e && (!best || e.lastSeen > best.lastSeen)) best = { ...e, replica };
    }
    return best;
  }

  /** Live replicas other than this one, and how many agents each holds. */
  peers(): Record<string, number> {
    const now = this.now();
    const out: Record<string, number> = {};
    for (const [replica, view] of this.replicas) if (now - view.lastHeard <= this.opts.ttlMs) out[replica] = view.agents.size;
    return out;
  }

  private beat(): void {
    if (!this.local) return;
    const entries = this.local.localAgents();
    const gen = ++this.gen;
    const parts = Math.max(1, Math.ceil(entries.length / this.opts.partSize));
    for (let p = 0; p < parts; p++) {
      this.send({ v: 1, r: this.replicaId, k: "beat", g: gen, p, n: parts, a: entries.slice(p * this.opts.partSize, (p + 1) * this.opts.partSize).map(wire) });
    }
  }

  private send(m: PresenceMessage): void {
    try {
      this.nc.publish(this.subject, JSON.stringify(m));
    } catch {
      // A closed or reconnecting connection: the next beat says it all again.
    }
  }

  private receive(msg: Msg): void {
    const m = parsePresence(msg.data);
    if (typeof m === "string") {
      this.rejected.count++;
      this.opts.onRejected?.(m);
      return;
    }
    if (m.r === this.replicaId) return;
    if (m.k === "sync") {
      // Several replicas may start together: one answer for a burst of requests.
      if (!this.syncPending) {
        this.syncPending = true;
        setImmediate(() => {
          this.syncPending = false;
          this.beat();
        });
      }
      return;
    }
    if (m.k === "bye") {
      this.replicas.delete(m.r);
      return;
    }
    let view = this.replicas.get(m.r);
    if (!view) this.replicas.set(m.r, (view = { lastHeard: 0, agents: new Map() }));
    view.lastHeard = this.now();
    const entries = (m.a ?? []).map(unwire);
    if (m.k === "up") for (const e of entries) view.agents.set(e.agentId, e);
    else if (m.k === "down") for (const e of entries) view.agents.delete(e.agentId);
    else this.snapshotPart(view, m.g!, m.p!, m.n!, entries);
  }

  private snapshotPart(view: ReplicaView, gen: number, part: number, parts: number, entries: PresenceEntry[]): void {
    if (!view.building || view.building.gen !== gen) view.building = { gen, parts, seen: new Set(), agents: new Map() };
    const b = view.building;
    if (b.parts !== parts || b.seen.has(part)) return;
    b.seen.add(part);
    for (const e of entries) b.agents.set(e.agentId, e);
    if (b.seen.size === b.parts) {
      view.agents = b.agents;
      view.building = undefined;
    }
  }
}

function wire(e: PresenceEntry): WireEntry {
  return [e.agentId, e.lastSeen, e.telemetry, e.telemetryReason?.slice(0, 600) ?? null, e.clockOffsetMs];
}

function unwire(w: WireEntry): PresenceEntry {
  return { agentId: w[0], lastSeen: w[1], telemetry: w[2], telemetryReason: w[3], clockOffsetMs: w[4] };
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);

/** A presence message read back from NATS, checked; a string says why it was refused. */
export function parsePresence(data: Uint8Array): PresenceMessage | string {
  if (data.byteLength > MAX_MESSAGE_BYTES) return "too large";
  let m: unknown;
  try {
    m = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    return "not JSON";
  }
  if (!m || typeof m !== "object" || Array.isArray(m)) return "not an object";
  const o = m as Record<string, unknown>;
  if (o.v !== 1) return "unknown version";
  if (typeof o.r !== "string" || !ID.test(o.r)) return "bad replica id";
  if (typeof o.k !== "string" || !KINDS.has(o.k)) return "bad kind";
  if (o.k === "beat" && !(isInt(o.g) && isInt(o.n) && isInt(o.p) && o.n >= 1 && o.n <= MAX_PARTS && o.p >= 0 && o.p < o.n)) return "bad snapshot part";
  if (o.k === "beat" || o.k === "up" || o.k === "down") {
    if (!Array.isArray(o.a) || o.a.length > MAX_ENTRIES) return "bad entries";
    for (const e of o.a as unknown[]) if (!validEntry(e)) return "bad entry";
  }
  return o as unknown as PresenceMessage;
}

function validEntry(e: unknown): boolean {
  if (!Array.isArray(e) || e.length !== 5) return false;
  const [id, seen, telemetry, reason, offset] = e as unknown[];
  return (
    typeof id === "string" &&
    ID.test(id) &&
    isInt(seen) &&
    seen >= 0 &&
    typeof telemetry === "string" &&
    TELEMETRY.has(telemetry) &&
    (reason === null || (typeof reason === "string" && reason.length <= 600)) &&
    (offset === null || isInt(offset))
  );
}
