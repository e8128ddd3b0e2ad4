import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";

/** What the command service needs when the agent's stream is not held here: tell whoever holds it. */
export interface RemoteDelivery {
  nudge(agentId: string, commandId: string): void;
}

/** What the inventory service needs likewise: ask whoever holds the agent for a fresh inventory. */
export interface RemoteInventory {
  requestInventory(agentId: string): void;
}

/** What the replica holding an agent does when asked. */
export interface RelayHandlers {
  /** Send this stored command (a nudge names it; the database row is what is sent). */
  deliver(agentId: string, commandId: string): Promise<void>;
  /** Ask the agent for a fresh inventory. */
  inventory(agentId: string): void;
}

type Request = { kind: "deliver"; commandId: string } | { kind: "inventory" };

/** Agents whose streams this replica holds, and when that changes (the registry). */
export interface HeldAgents {
  onConnectionChange(l: (agentId: string, online: boolean) => void): void;
}

const MAX_NUDGE_BYTES = 1024;
const COMMAND_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * An agent id as one NATS subject token. Enrolled ids are UUIDs and pass as they are; anything
 * else (a dot, which splits tokens, or a wildcard) is hex-encoded behind "=", which no id contains.
 */
export function agentSubjectToken(agentId: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(agentId) ? agentId : `=${Buffer.from(agentId.slice(0, 128), "utf8").toString("hex")}`;
}

/**
 * Requests for an agent across replicas, on the agent's own subject (`<prefix>.agent.<id>.relay`),
 * which only the replica holding that agent's stream subscribes to while it holds it.
 *
 * Commands: the command is already stored when it is issued; the replica that took the API call
 * publishes a nudge naming it, and the holder reads it back from the database and sends it. No
 * command body travels over NATS: the database row (signed, with its agent and state) is what is
 * sent. A nudge lost while the agent moves is covered by the pending delivery every (re)connect
 * does. Inventory requests go the same way (nothing to carry but the ask).
 */
export class AgentRelay implements RemoteDelivery, RemoteInventory {
  private readonly subs = new Map<string, Subscription>();
  private handlers?: RelayHandlers;
  readonly counts = { nudged: 0, received: 0, rejected: 0 };

  constructor(
    private readonly nc: Pick<NatsConnection, "publish" | "subscribe" | "flush">,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  subject(agentId: string): string {
    return `${this.prefix}.agent.${agentSubjectToken(agentId)}.relay`;
  }

  nudge(agentId: string, commandId: string): void {
    // NATS away: the command stays queued in the database and goes out when the agent reconnects.
    this.send(agentId, { v: 1, k: "deliver", c: commandId });
  }

  requestInventory(agentId: string): void {
    this.send(agentId, { v: 1, k: "inventory" });
  }

  /** Serves requests for every agent this replica holds, from now on. */
  start(held: HeldAgents, handlers: RelayHandlers): void {
    this.handlers = handlers;
    held.onConnectionChange((agentId, online) => (online ? this.hold(agentId) : this.release(agentId)));
  }

  private send(agentId: string, m: Record<string, unknown>): void {
    try {
      this.nc.publish(this.subject(agentId), JSON.stringify(m));
      this.counts.nudged++;
    } catch (err) {
      this.onError(err);
    }
  }

  /**
   * Resolves once the server knows this replica's subscriptions: a command stored after the
   * pending read that follows is nudged to a subscriber that exists.
   */
  ready(): Promise<void> {
    return this.nc.flush();
  }

  stop(): void {
    for (const s of this.subs.values()) s.unsubscribe();
    this.subs.clear();
    this.handlers = undefined;
  }

  get heldCount(): number {
    return this.subs.size;
  }

  private hold(agentId: string): void {
    if (this.subs.has(agentId) || !this.handlers) return;
    try {
      this.subs.set(agentId, this.nc.subscribe(this.subject(agentId), { callback: (err, msg) => (err ? this.onError(err) : this.receive(agentId, msg)) }));
    } catch (err) {
      this.onError(err);
    }
  }

  private release(agentId: string): void {
    this.subs.get(agentId)?.unsubscribe();
    this.subs.delete(agentId);
  }

  private receive(agentId: string, msg: Msg): void {
    const req = parseRelayRequest(msg.data);
    const h = this.handlers;
    if (!req || !h) {
      this.counts.rejected++;
      return;
    }
    this.counts.received++;
    if (req.kind === "inventory") h.inventory(agentId);
    else h.deliver(agentId, req.commandId).catch(this.onError);
  }
}

/** A request read back from NATS, checked; null when it is not a well-formed one. */
export function parseRelayRequest(data: Uint8Array): Request | null {
  if (data.byteLength > MAX_NUDGE_BYTES) return null;
  try {
    const m = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8")) as unknown;
    if (!m || typeof m !== "object") return null;
    const { v, k, c } = m as { v?: unknown; k?: unknown; c?: unknown };
    if (v !== 1) return null;
    if (k === "inventory") return { kind: "inventory" };
    return k === "deliver" && typeof c === "string" && COMMAND_ID.test(c) ? { kind: "deliver", commandId: c } : null;
  } catch {
    return null;
  }
}
