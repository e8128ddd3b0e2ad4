import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";

/** What the command service needs when the agent's stream is not held here: tell whoever holds it. */
export interface RemoteDelivery {
  nudge(agentId: string, commandId: string): void;
}

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
 * Commands across replicas. The command is already stored when it is issued; the replica that
 * took the API call publishes a nudge on the agent's own subject (`<prefix>.agent.<id>.deliver`),
 * and the replica holding that agent's stream (subscribed to that subject while it holds it) reads
 * the command back from the database and sends it. No command body travels over NATS: a nudge
 * names a command id, and the database row (signed, with its agent and state) is what is sent.
 * A nudge lost while the agent moves is covered by the pending delivery every (re)connect does.
 */
export class CommandRelay implements RemoteDelivery {
  private readonly subs = new Map<string, Subscription>();
  private deliver?: (agentId: string, commandId: string) => Promise<void>;
  readonly counts = { nudged: 0, received: 0, rejected: 0 };

  constructor(
    private readonly nc: Pick<NatsConnection, "publish" | "subscribe" | "flush">,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  subject(agentId: string): string {
    return `${this.prefix}.agent.${agentSubjectToken(agentId)}.deliver`;
  }

  nudge(agentId: string, commandId: string): void {
    try {
      this.nc.publish(this.subject(agentId), JSON.stringify({ v: 1, c: commandId }));
      this.counts.nudged++;
    } catch (err) {
      // NATS away: the command stays queued in the database and goes out when the agent reconnects.
      this.onError(err);
    }
  }

  /** Serves nudges for every agent this replica holds, from now on. */
  start(held: HeldAgents, deliver: (agentId: string, commandId: string) => Promise<void>): void {
    this.deliver = deliver;
    held.onConnectionChange((agentId, online) => (online ? this.hold(agentId) : this.release(agentId)));
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
    this.deliver = undefined;
  }

  get heldCount(): number {
    return this.subs.size;
  }

  private hold(agentId: string): void {
    if (this.subs.has(agentId) || !this.deliver) return;
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
    const commandId = parseNudge(msg.data);
    if (!commandId || !this.deliver) {
      this.counts.rejected++;
      return;
    }
    this.counts.received++;
    this.deliver(agentId, commandId).catch(this.onError);
  }
}

/** A nudge read back from NATS: the command id, or null when it is not a well-formed nudge. */
export function parseNudge(data: Uint8Array): string | null {
  if (data.byteLength > MAX_NUDGE_BYTES) return null;
  try {
    const m = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8")) as unknown;
    if (!m || typeof m !== "object") return null;
    const { v, c } = m as { v?: unknown; c?: unknown };
    return v === 1 && typeof c === "string" && COMMAND_ID.test(c) ? c : null;
  } catch {
    return null;
  }
}
