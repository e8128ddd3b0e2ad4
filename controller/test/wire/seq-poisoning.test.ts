import { status } from "@grpc/grpc-js";
import { Event, type ControllerMessage } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";
import { TlsAgent } from "../trust/tls-agent";
import { createToken, enrollAgent, type EnrolledAgent } from "../trust/trust-fixture";

/**
 * Issue #10 class 2: with an agent's certificate, one batch with seq 2^53−1 was
 * accepted and acked, and the agent it belonged to was blind for good while the
 * API still showed it online. Here the attacker holds a real enrolled
 * certificate and speaks the real protocol over mTLS.
 */
const POISON = 2 ** 53 - 1;

function batch(a: TlsAgent, firstSeq: number, count: number): void {
  const events = Array.from({ length: count }, (_, i) =>
    Event.fromPartial({ seq: firstSeq + i, eventTimeMs: Date.now(), body: { $case: "agent", agent: { kind: "test", message: `event ${firstSeq + i}`, attributes: {} } } }),
  );
  a.stream.write({ msg: { $case: "events", events: { firstSeq, events } } });
}

function acks(m: ControllerMessage[]): number[] {
  return m.flatMap((x) => (x.msg?.$case === "ack" ? [x.msg.ack.seq] : []));
}

function connect(ctl: TestController, who: EnrolledAgent, lastSeq = 0): TlsAgent {
  const a = new TlsAgent(ctl.grpcPort, ctl.security.trust.ca.certPem, who);
  a.stream.write({
    msg: {
      $case: "hello",
      hello: { agentId: who.agentId, hostname: "victim", os: "test", kernel: "", agentVersion: "test", ipAddresses: [], tags: [], bootTimeMs: 0, lastSeq, arch: "", timeMs: Date.now() },
    },
  });
  return a;
}

async function metric(ctl: TestController, line: RegExp): Promise<number> {
  const text = (await ctl.get("/metrics")).body as string;
  const m = text.split("\n").find((l) => line.test(l));
  return m ? Number(m.split(" ").pop()) : 0;
}

describe("sequence numbers cannot be poisoned (mTLS, a stolen certificate)", () => {
  let ctl: TestController;
  let victim: EnrolledAgent;

  beforeAll(async () => {
    ctl = await startTestController({ mtls: true, env: { VIGIL_AGENT_STALLED_AFTER: "1s" } });
    victim = await enrollAgent(ctl, await createToken(ctl));
    const real = connect(ctl, victim);
    await waitFor("welcome", () => real.welcomed());
    batch(real, 1, 10);
    await waitFor("ack 10", () => acks(real.received).includes(10));
    real.close();
  });
  afterAll(async () => ctl?.dispose());

  it("a batch with seq 2^53−1 is refused with a clear error: nothing stored or acked, counted, audited, the agent flagged and alerted", async () => {
    const before = await metric(ctl, /^vigil_ingest_batches_refused_total\{reason="seq_window"\}/);
    const attacker = connect(ctl, victim);
    await waitFor("welcome", () => attacker.welcomed());
    batch(attacker, POISON, 1);
    await waitFor("the refusal", () => attacker.error);
    expect(attacker.error!.code).toBe(status.INVALID_ARGUMENT);
    expect(attacker.error!.details).toMatch(/seq 9007199254740991 is beyond what this agent can have produced \(at most \d+/);
    expect(acks(attacker.received)).toEqual([]);
    expect(await ctl.store.countForAgent(victim.agentId)).toBe(10);

    const agent = (await ctl.get(`/api/v1/agents/${victim.agentId}`)).body;
    expect(agent).toMatchObject({ ackedSeq: 10, lastSeq: 10, online: false, telemetry: "refused" });
    expect(agent.telemetryReason).toMatch(/refused, nothing stored: .*9007199254740991/);
    expect(await metric(ctl, /^vigil_ingest_batches_refused_total\{reason="seq_window"\}/)).toBe(before + 1);
    const audit = await ctl.get(`/api/v1/audit?action=agent.seq_refused`);
    expect(audit.body.items[0]).toMatchObject({ actor: `agent:${victim.agentId}` });
    expect(JSON.stringify(audit.body.items[0].details)).toContain("9007199254740991");
    const alert = await waitFor("the telemetry-refused alert", async () => {
      const r = await ctl.get(`/api/v1/alerts?rule=vigil-agent-telemetry-refused&agent=${victim.agentId}`);
      return r.body.items?.[0];
    });
    expect(alert).toMatchObject({ rule: { id: "vigil-agent-telemetry-refused" }, agentId: victim.agentId });
    attacker.close();
  });

  it("a big jump is refused too; contiguous batches and the real agent carry on, and it shows online again", async () => {
    const attacker = connect(ctl, victim);
    await waitFor("welcome", () => attacker.welcomed());
    batch(attacker, 10 + 5_000_000, 5);
    await waitFor("the refusal", () => attacker.error);
    expect(attacker.error!.details).toMatch(/seq 5000010 is beyond what this agent can have produced/);
    attacker.close();

    const real = connect(ctl, victim, 10);
    const welcome = await waitFor("welcome", () => real.received.find((m) => m.msg?.$case === "welcome"));
    expect(welcome.msg?.$case === "welcome" && welcome.msg.welcome.ackedSeq).toBe(10);
    batch(real, 11, 2000);
    batch(real, 2011, 2000);
    await waitFor("ack 4010", () => acks(real.received).includes(4010));
    expect(real.error).toBeUndefined();
    const agent = await waitFor("online again", async () => {
      const a = (await ctl.get(`/api/v1/agents/${victim.agentId}`)).body;
      return a.online ? a : undefined;
    });
    expect(agent).toMatchObject({ telemetry: "ok", telemetryReason: null, ackedSeq: 4010, missingEvents: 0 });
    real.close();
  });

  it("a Hello claiming last seq 2^53−1 is not taken: the stored last seq stays, the claim is audited", async () => {
    const attacker = connect(ctl, victim, POISON);
    await waitFor("welcome", () => attacker.welcomed());
    await waitFor("the claim audited", async () => (await ctl.get(`/api/v1/audit?action=agent.seq_claim_refused`)).body.items?.[0]);
    const agent = (await ctl.get(`/api/v1/agents/${victim.agentId}`)).body;
    expect(agent.lastSeq).toBe(4010);
    // And the claim does not open the window for a batch up there.
    batch(attacker, POISON - 1, 1);
    await waitFor("the refusal", () => attacker.error);
    expect(attacker.error!.code).toBe(status.INVALID_ARGUMENT);
    attacker.close();
  });

  it("a fresh agent enrolled an hour ago may arrive with an hour of backlog, its spool's drops recorded as a gap", async () => {
    const late = await enrollAgent(ctl, await createToken(ctl));
    // Enrolled an hour ago; the controller was unreachable since, and the spool dropped its oldest.
    await ctl.dataSource.query(`UPDATE agent_certificates SET issued_at = ? WHERE agent_id = ?`, [Date.now() - 3_600_000, late.agentId]);
    const a = connect(ctl, late, 1_000_000);
    await waitFor("welcome", () => a.welcomed());
    batch(a, 999_001, 1000);
    await waitFor("ack 1000000", () => acks(a.received).includes(1_000_000));
    expect((await ctl.get(`/api/v1/agents/${late.agentId}`)).body).toMatchObject({ lastSeq: 1_000_000, missingEvents: 999_000, telemetry: "ok", online: true });
    const refusals = (await ctl.get(`/api/v1/audit?action=agent.seq_claim_refused`)).body.items as Array<{ actor: string }>;
    expect(refusals.some((r) => r.actor === `agent:${late.agentId}`)).toBe(false);
    a.close();
  });

  it("seqs that are not safe integers are refused as a broken contract", async () => {
    const attacker = connect(ctl, victim);
    await waitFor("welcome", () => attacker.welcomed());
    batch(attacker, 2 ** 60, 1);
    await waitFor("the refusal", () => attacker.error);
    expect(attacker.error!.code).toBe(status.INVALID_ARGUMENT);
    expect(attacker.error!.details).toMatch(/undecodable AgentMessage, nothing stored or acknowledged: .*MAX_SAFE_INTEGER/);
    expect(await metric(ctl, /^vigil_ingest_batches_refused_total\{reason="contract"\}/)).toBeGreaterThanOrEqual(1);
    attacker.close();
  });
});

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`a cursor poisoned before seq windows existed heals (${dialect})`, () => {
    let ctl: TestController;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const db = dialect === "postgres" ? await createPgDatabase() : undefined;
      drop = db?.drop;
      ctl = await startTestController({ databaseUrl: db?.url });
    });
    afterAll(async () => {
      await ctl?.dispose();
      await drop?.();
    });

    it("comes back to the highest stored seq at the next Hello, audited, and the agent's events are acked again", async () => {
      const a = new RawAgent(ctl.grpcPort);
      a.hello("old-victim");
      a.events(1, 20);
      await waitFor("ack 20", () => a.lastAck() === 20);
      a.close();
      // What an older controller stored after acking the forged batch (the event with it included).
      const p = dialect === "postgres" ? ["$1", "$2", "$3"] : ["?", "?", "?"];
      await ctl.dataSource.query(`UPDATE agents SET acked_seq = ${p[0]}, last_seq = ${p[1]} WHERE id = ${p[2]}`, [POISON, POISON, "old-victim"]);
      await ctl.dataSource.query(`INSERT INTO events (agent_id, seq, type, action, event_time, received_at, summary, data) VALUES (${p[0]}, ${p[1]}, 'agent', 'test', ${p[2]}, 0, '', '{}')`, [
        "old-victim",
        POISON,
        Date.now(),
      ]);

      const b = new RawAgent(ctl.grpcPort);
      b.hello("old-victim", { lastSeq: 20 });
      const welcome = await waitFor("welcome", () => b.received.find((m) => m.msg?.$case === "welcome"));
      expect(welcome.msg?.$case === "welcome" && welcome.msg.welcome.ackedSeq).toBe(20);
      b.events(21, 5);
      await waitFor("ack 25", () => b.lastAck() === 25);
      const audit = await ctl.get(`/api/v1/audit?action=agent.seq_cursor_healed`);
      expect(audit.body.items[0]).toMatchObject({ actor: "agent:old-victim" });
      expect((await ctl.get("/api/v1/agents/old-victim")).body).toMatchObject({ ackedSeq: 25, lastSeq: 25, missingEvents: 0 });
      b.close();
    });
  });
}

describe("a connected agent whose telemetry is not stored is not online", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController({ env: { VIGIL_AGENT_STALLED_AFTER: "1s" } });
  });
  afterAll(async () => ctl?.dispose());

  it("a backlog and nothing stored: flagged stalled and alerted, back to online once a batch is stored", async () => {
    const a = new RawAgent(ctl.grpcPort);
    a.hello("stalled-agent", { status: { sensors: [], dropped: {}, spoolBytes: 4096, spoolRecords: 500, isolated: false, spoolDiscardedBytes: 0, acksBeyondLast: 2 } });
    await waitFor("welcome", () => a.received.length > 0);
    const stalled = await waitFor("flagged stalled", async () => {
      const v = (await ctl.get("/api/v1/agents/stalled-agent")).body;
      return v.telemetry === "stalled" ? v : undefined;
    });
    expect(stalled).toMatchObject({ online: false, connected: true });
    // The agent's own count of acks it refused (beyond its last seq) is shown with its status.
    expect(stalled.status.acksBeyondLast).toBe(2);
    expect(stalled.telemetryReason).toMatch(/500 event\(s\) waiting in the agent's spool and nothing stored/);
    await waitFor("the stalled alert", async () => (await ctl.get(`/api/v1/alerts?rule=vigil-agent-telemetry-stalled&agent=stalled-agent`)).body.items?.[0]);

    a.events(1, 5);
    await waitFor("ack 5", () => a.lastAck() === 5);
    const ok = (await ctl.get("/api/v1/agents/stalled-agent")).body;
    expect(ok).toMatchObject({ online: true, telemetry: "ok" });
    a.close();
  });
});
