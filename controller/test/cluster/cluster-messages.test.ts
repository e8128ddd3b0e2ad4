import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterPresence, type LocalPresenceSource, type PresenceEntry } from "../../src/agents/cluster-presence";
import { ChangeSync } from "../../src/bus/change-sync";
import { closeBus, connectBus } from "../../src/bus/nats-connection";
import { agentSubjectToken, AgentRelay } from "../../src/agents/agent-relay";
import { ClusterNotices } from "../../src/integrations/cluster-notices";
import type { Notice } from "../../src/integrations/notices";
import { waitFor } from "../support/wait";

// Real NATS on 127.0.0.1:4222 (CI runs it); a unique prefix keeps parallel runs apart. Core NATS only: nothing to delete after.
const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `tm${randomBytes(4).toString("hex")}`;
const conns: NatsConnection[] = [];
const connect = async (name: string) => {
  const nc = await connectBus({ url: NATS_URL, name, log: () => undefined });
  conns.push(nc);
  return nc;
};

beforeAll(async () => {
  await connect("cluster-messages-raw");
});
afterAll(async () => {
  for (const nc of conns) await closeBus(nc);
});

/** A stand-in for a replica's registry: the agents it holds, and connect/disconnect to announce. */
class FakeRegistry implements LocalPresenceSource {
  readonly held = new Map<string, PresenceEntry>();
  private readonly listeners: Array<(id: string, online: boolean) => void> = [];
  localAgents(): PresenceEntry[] {
    return [...this.held.values()];
  }
  localAgent(agentId: string): PresenceEntry | undefined {
    return this.held.get(agentId);
  }
  onConnectionChange(l: (id: string, online: boolean) => void): void {
    this.listeners.push(l);
  }
  connect(agentId: string): void {
    this.held.set(agentId, { agentId, lastSeen: Date.now(), telemetry: "ok", telemetryReason: null, clockOffsetMs: 0 });
    for (const l of this.listeners) l(agentId, true);
  }
  disconnect(agentId: string): void {
    this.held.delete(agentId);
    for (const l of this.listeners) l(agentId, false);
  }
}

describe("presence over NATS", () => {
  const subject = `${prefix}.presence`;
  const fast = { beatMs: 100, ttlMs: 500, partSize: 1_000 };

  it("shows every agent another replica holds (snapshots in parts), changes at once, and forgets a replica that says goodbye or goes silent", async () => {
    const regA = new FakeRegistry();
    for (let i = 0; i < 2_500; i++)
      regA.held.set(`agent-${i}`, { agentId: `agent-${i}`, lastSeen: Date.now(), telemetry: i === 7 ? "refused" : "ok", telemetryReason: i === 7 ? "bad" : null, clockOffsetMs: null });
    const a = new ClusterPresence(await connect("pa"), subject, "A", fast);
    const b = new ClusterPresence(await connect("pb"), subject, "B", fast);
    const regB = new FakeRegistry();
    b.start(regB);
    a.start(regA);
    try {
      // 2,500 agents: three parts, all of them seen.
      await waitFor("A's snapshot on B", () => b.find("agent-2499") && b.find("agent-0"));
      expect(b.find("agent-1234")?.replica).toBe("A");
      expect(b.find("agent-7")).toMatchObject({ telemetry: "refused", telemetryReason: "bad" });
      expect(a.find("agent-1")).toBeUndefined(); // a replica does not list itself as remote
      expect(b.peers()).toEqual({ A: 2_500 });

      // A disconnect is announced at once, not at the next beat.
      regA.disconnect("agent-5");
      await waitFor("agent-5 gone on B", () => b.find("agent-5") === undefined);
      // The other way round: an agent connecting to B is on A's list at once.
      regB.connect("agent-6");
      await waitFor("B's agent on A", () => a.find("agent-6")?.replica === "B");

      a.stop();
      await waitFor("A's goodbye", () => b.find("agent-0") === undefined);
      expect(b.peers()).toEqual({});

      // A replica killed (no goodbye): its agents lapse after the TTL.
      const cConn = await connect("pc");
      const c = new ClusterPresence(cConn, subject, "C", fast);
      const regC = new FakeRegistry();
      regC.held.set("agent-c", { agentId: "agent-c", lastSeen: Date.now(), telemetry: "ok", telemetryReason: null, clockOffsetMs: null });
      c.start(regC);
      await waitFor("C's agent on B", () => b.find("agent-c"));
      await cConn.close(); // like kill -9: no bye
      await waitFor("C lapsed on B", () => b.find("agent-c") === undefined, 5_000);
    } finally {
      a.stop();
      b.stop();
    }
  });

  it("counts and ignores hostile presence messages; the good ones still work", async () => {
    const raw = conns[0]!;
    const bConn = await connect("pb2");
    const b = new ClusterPresence(bConn, `${subject}2`, "B", fast);
    b.start(new FakeRegistry());
    await bConn.flush(); // the subscription is at the server before the first message
    try {
      const bad = [
        "not json",
        JSON.stringify([1, 2]),
        JSON.stringify({ v: 2, r: "X", k: "up", a: [] }),
        JSON.stringify({ v: 1, r: "bad replica!", k: "up", a: [] }),
        JSON.stringify({ v: 1, r: "X", k: "up", a: [["a.b", 1, "owned", null, null]] }),
        JSON.stringify({ v: 1, r: "X", k: "up", a: [["has space", 1, "ok", null, null]] }),
        JSON.stringify({ v: 1, r: "X", k: "beat", g: 1, p: 5, n: 2, a: [] }),
        JSON.stringify({ v: 1, r: "X", k: "up", a: Array.from({ length: 5_001 }, (_, i) => [`a${i}`, 1, "ok", null, null]) }),
        JSON.stringify({ v: 1, r: "X", k: "up", a: [["a", 1, "ok", "x".repeat(601), null]] }),
        "x".repeat(600 * 1024),
      ];
      for (const m of bad) raw.publish(`${subject}2`, m);
      raw.publish(`${subject}2`, JSON.stringify({ v: 1, r: "X", k: "up", a: [["agent-x", Date.now(), "ok", null, 12]] }));
      await waitFor("the good one", () => b.find("agent-x"));
      expect(b.find("agent-x")).toMatchObject({ replica: "X", clockOffsetMs: 12 });
      expect(b.rejected.count).toBe(bad.length);
    } finally {
      b.stop();
    }
  });
});

describe("agent relay (command nudges, inventory requests) over NATS", () => {
  it("reaches only the replica holding the agent, by the agent's own subject; bad requests are counted", async () => {
    const issuerConn = await connect("ra");
    const issuer = new AgentRelay(issuerConn, prefix);
    const holder = new AgentRelay(await connect("rc"), prefix);
    const reg = new FakeRegistry();
    const delivered: Array<[string, string]> = [];
    const inventories: string[] = [];
    holder.start(reg, { deliver: async (agentId, commandId) => void delivered.push([agentId, commandId]), inventory: (agentId) => void inventories.push(agentId) });
    // Not held yet: a nudge goes nowhere (the command waits in the database for the agent's connect).
    issuer.nudge("host.one", "cmd-0");
    await issuerConn.flush();
    reg.connect("host.one");
    await holder.ready();
    expect(agentSubjectToken("host.one")).toBe(`=${Buffer.from("host.one").toString("hex")}`);
    expect(agentSubjectToken("3f0c-uuid_like")).toBe("3f0c-uuid_like");
    issuer.nudge("host.one", "cmd-1");
    await waitFor("the nudge", () => delivered.length === 1);
    expect(delivered).toEqual([["host.one", "cmd-1"]]);

    const raw = conns[0]!;
    for (const m of ["nope", JSON.stringify({ v: 1, c: "has space" }), JSON.stringify({ v: 1, c: "x".repeat(129) }), JSON.stringify({ v: 2, c: "cmd" }), "x".repeat(2048)])
      raw.publish(holder.subject("host.one"), m);
    issuer.nudge("host.one", "cmd-2");
    await waitFor("the next good nudge", () => delivered.length === 2);
    expect(holder.counts.rejected).toBe(5);

    reg.disconnect("host.one");
    await holder.ready();
    issuer.nudge("host.one", "cmd-3");
    issuer.nudge("host-two", "cmd-4");
    await issuerConn.flush();
    reg.connect("host-two");
    await holder.ready();
    issuer.nudge("host-two", "cmd-5");
    await waitFor("host-two's nudge", () => delivered.length === 3);
    expect(delivered.map((d) => d[1])).toEqual(["cmd-1", "cmd-2", "cmd-5"]);
    holder.stop();
  });
});

describe("live-stream notices over NATS", () => {
  const notice = (type: string, extra: Partial<Notice> = {}): Notice => ({ topic: "alerts", type, time: Date.now(), data: { id: type }, ...extra });

  it("each notice reaches every other replica once, never echoes back; raw events only while another replica watches them", async () => {
    const got: Record<string, Notice[]> = { A: [], B: [], C: [] };
    const watching: Record<string, number> = { A: 0, B: 0, C: 0 };
    const nodes = await Promise.all(
      (["A", "B", "C"] as const).map(async (r) => {
        const nc = await connect(`n${r}`);
        const n = new ClusterNotices(nc, prefix, r, { interestBeatMs: 200 });
        n.start(
          (x) => got[r]!.push(x),
          () => watching[r]!,
        );
        await nc.flush(); // subscribed at the server before anyone publishes
        return n;
      }),
    );
    const [A, B] = nodes as [ClusterNotices, ClusterNotices, ClusterNotices];
    try {
      A.publish(notice("alert.created", { agentId: "agent-1", score: 70, tags: ["attack.t1110"] }));
      B.publish({ topic: "commands", type: "command.succeeded", time: Date.now(), agentId: "agent-1", data: { id: "c1" } });
      await waitFor("both notices everywhere else", () => got.A!.length === 1 && got.B!.length === 1 && got.C!.length === 2);
      expect(got.B![0]).toMatchObject({ topic: "alerts", type: "alert.created", agentId: "agent-1", score: 70, tags: ["attack.t1110"] });
      expect(got.A![0]).toMatchObject({ topic: "commands", type: "command.succeeded" });

      // Nobody watches events: not even serialized.
      A.publish({ topic: "events", type: "event.process", time: Date.now(), agentId: "agent-1", eventType: "process", data: { seq: 1 } });
      expect(A.counts.eventsSkipped).toBe(1);
      watching.C = 1;
      await waitFor("C's interest known on A", () => {
        A.publish({ topic: "events", type: "event.process", time: Date.now(), agentId: "agent-1", eventType: "process", data: { seq: 2 } });
        return got.C!.some((n) => n.topic === "events");
      });
      expect(got.C!.filter((n) => n.topic === "events").every((n) => n.data.seq === 2)).toBe(true);

      // A burst is batched, not one message per notice, and arrives whole and in order.
      for (let i = 0; i < 1_200; i++) A.publish(notice(`alert.updated`, { data: { i } }));
      await waitFor("the burst on B", () => got.B!.filter((n) => n.type === "alert.updated").length === 1_200);
      expect(got.B!.filter((n) => n.type === "alert.updated").map((n) => n.data.i)).toEqual(Array.from({ length: 1_200 }, (_, i) => i));
      expect(got.A!.filter((n) => n.type === "alert.updated")).toHaveLength(0);
    } finally {
      for (const n of nodes) n.stop();
    }
  });

  it("counts and drops hostile notice batches", async () => {
    const got: Notice[] = [];
    const p2 = `${prefix}x`;
    const bConn = await connect("nB2");
    const B = new ClusterNotices(bConn, p2, "B");
    B.start(
      (n) => got.push(n),
      () => 0,
    );
    await bConn.flush(); // the subscriptions are at the server before the first message
    try {
      const ok = { topic: "alerts", type: "alert.created", time: 1, data: {} };
      let deep: unknown = {};
      for (let i = 0; i < 40; i++) deep = { d: deep };
      const bad = [
        "{",
        JSON.stringify({ v: 1, r: "A", n: "x" }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, topic: "notify" }] }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, topic: "secrets" }] }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, type: "x".repeat(65) }] }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, time: -1 }] }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, data: [] }] }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, data: deep }] }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, agentId: "a b" }] }),
        JSON.stringify({ v: 1, r: "A", n: [{ ...ok, tags: Array.from({ length: 65 }, () => "t") }] }),
        JSON.stringify({ v: 1, r: "A", n: Array.from({ length: 2_001 }, () => ok) }),
      ];
      const raw = conns[0]!;
      for (const m of bad) raw.publish(`${p2}.notices.batch`, m);
      raw.publish(`${p2}.notices.interest`, JSON.stringify({ v: 1, r: "A", events: 7 }));
      raw.publish(`${p2}.notices.batch`, JSON.stringify({ v: 1, r: "A", n: [ok] }));
      await waitFor("the good batch", () => got.length === 1);
      expect(B.counts.rejected).toBe(bad.length + 1);
    } finally {
      B.stop();
    }
  });
});

describe("state changed through one replica's API, reloaded by the others", () => {
  it("announces a local change once; the others reload (one at a time, a change during a reload gives one more); a reload's own change events are not announced again", async () => {
    class State {
      private listeners: Array<() => void> = [];
      reloads = 0;
      release?: () => void;
      onLocalChange(l: () => void): void {
        this.listeners.push(l);
      }
      change(): void {
        for (const l of this.listeners) l();
      }
      async reload(): Promise<void> {
        this.reloads++;
        // Like the IOC catalog: reloading fires the same listeners a local change does.
        this.change();
        await new Promise<void>((r) => (this.release = r));
      }
    }
    const nodes = await Promise.all(
      ["A", "B"].map(async (r) => {
        const nc = await connect(`cs${r}`);
        const sync = new ChangeSync(nc, prefix, "things", r, 0);
        const state = new State();
        sync.start(state);
        await nc.flush();
        return { sync, state };
      }),
    );
    const [a, b] = nodes as [{ sync: ChangeSync; state: State }, { sync: ChangeSync; state: State }];
    try {
      a.state.change();
      await waitFor("B reloading", () => b.state.reloads === 1);
      // Two more changes while B's reload runs: one more reload after it, not two.
      a.state.change();
      a.state.change();
      await waitFor("both announcements on B", () => b.sync.counts.received === 3);
      expect(b.state.reloads).toBe(1);
      b.state.release!();
      await waitFor("B's second reload", () => b.state.reloads === 2);
      b.state.release!();
      expect(a.sync.counts.announced).toBe(3);
      // B's reloads fired its change listeners, but B announced nothing: A never reloads.
      expect(b.sync.counts.announced).toBe(0);
      expect(a.state.reloads).toBe(0);
      conns[0]!.publish(`${prefix}.changed.things`, "garbage");
      await waitFor("the garbage counted", () => b.sync.counts.rejected === 1 && a.sync.counts.rejected === 1);
    } finally {
      for (const n of nodes) n.sync.stop();
    }
  });
});
