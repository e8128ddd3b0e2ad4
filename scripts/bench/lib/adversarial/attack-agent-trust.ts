import { randomUUID } from "node:crypto";
import { CertifiedClient, enrollIdentity, processEvent, stealIdentity } from "./agents";
import { enrollmentToken, storedCount, until } from "./controller";
import type { Ctx, Outcome } from "./context";
import { json } from "./http";
import { underTest } from "./under-test";

/** Waits until the real agent's stored events grow by `n`; returns the growth and how long it took. */
async function keepsSending(x: Ctx, n: number, timeoutMs: number): Promise<{ grew: number; afterMs: number }> {
  const before = storedCount(x.c, x.agent.agentId);
  const t0 = Date.now();
  await until(() => storedCount(x.c, x.agent.agentId) - before >= n, timeoutMs, 250);
  return { grew: storedCount(x.c, x.agent.agentId) - before, afterMs: Date.now() - t0 };
}

/**
 * Class 2: with the real agent's own certificate, one batch at seq 2^53−1.
 * Held: that seq is not acknowledged, and the real agent's telemetry keeps
 * being stored afterwards, also across an agent restart.
 */
export async function forgedSeq(x: Ctx): Promise<Outcome> {
  const stolen = stealIdentity(x.agent);
  const s = new CertifiedClient(x.c.grpcPort, x.c.caPem, stolen);
  s.hello(stolen.agentId, [], 0);
  await until(() => s.welcomed() || s.error, 10_000);
  const forged = Number.MAX_SAFE_INTEGER;
  s.events(forged, [{ body: { $case: "agent", agent: { kind: "bench", message: "forged", attributes: {} } } }]);
  await until(() => s.lastAck() >= forged || s.error, 5_000);
  const acked = s.lastAck() >= forged;
  s.close();
  const mark = x.agent.proc.output().length;
  const after = await keepsSending(x, 20, 30_000);
  const log = x.agent.proc
    .output()
    .slice(mark)
    .split("\n")
    .filter((l) => /error|refus|lost|disconnect|EEXIST/i.test(l))
    .slice(-1)[0]
    ?.slice(0, 160);
  await x.agent.restart();
  const afterRestart = await keepsSending(x, 20, 25_000);
  const row = await x.c.api("GET", `/api/v1/agents/${x.agent.agentId}`, { key: x.c.keys.admin });
  const held = !acked && after.grew >= 20 && afterRestart.grew >= 20;
  return {
    id: "2",
    attack: "forged seq 2^53−1 with the agent's own certificate",
    held,
    measured: `forged batch ${acked ? "ACKED" : "not acked"}${s.error ? ` (gRPC ${s.error.code})` : ""}; agent then stored +${after.grew} events (${(after.afterMs / 1000).toFixed(1)} s), +${afterRestart.grew} after a restart; API online=${row.json?.online}${after.grew < 20 && log ? `; agent: ${log}` : ""}`,
  };
}

export async function backdated(x: Ctx): Promise<Outcome> {
  const { c } = x;
  const id = await enrollIdentity(c, await enrollmentToken(c));
  const s = new CertifiedClient(c.grpcPort, c.caPem, id);
  s.hello(id.agentId);
  await until(() => s.welcomed() || s.error, 10_000);
  const day = 86_400_000;
  s.events(1, [processEvent("/usr/bin/adv-epoch", "old clock 1970", 1000), processEvent("/usr/bin/adv-40d", "old clock 40d", Date.now() - 40 * day)]);
  await until(() => s.lastAck() >= 2 || s.error, 10_000);
  const acked = s.lastAck() >= 2;
  s.close();
  const deleted = await retentionPass(c.dbUrl);
  const stored = storedCount(c, id.agentId);
  return {
    id: "8",
    attack: "events stamped 1970 / 40 days ago, then retention",
    held: stored === 2,
    measured: `${acked ? "acked" : "not acked"}; ${stored}/2 still stored after a retention pass (it deleted ${deleted})`,
  };
}

async function retentionPass(dbUrl: string): Promise<number> {
  const { createDataSource } = await underTest<typeof import("../../../../controller/src/database/data-source")>("controller/dist/database/data-source.js");
  const { EventStore } = await underTest<typeof import("../../../../controller/src/database/repositories/event-store")>("controller/dist/database/repositories/event-store.js");
  const { RetentionJob } = await underTest<typeof import("../../../../controller/src/retention/retention")>("controller/dist/retention/retention.js");
  const { loadConfig } = await underTest<typeof import("../../../../controller/src/config/config")>("controller/dist/config/config.js");
  const ds = createDataSource({ url: dbUrl, sqliteSynchronous: "NORMAL" });
  await ds.initialize();
  try {
    // The same retention the controller was configured with (default 30 days).
    const job = new RetentionJob(new EventStore(ds), loadConfig({ database: dbUrl, dataDir: "/nonexistent" }, process.env).eventRetentionMs);
    return await job.runOnce();
  } finally {
    await ds.destroy();
  }
}

/**
 * Class 9: a certified agent whose token carried no tags claims `critical` in
 * Hello, then trips a rule an auto-isolate playbook answers. Held: the
 * isolation is issued (the guard rail did not see `critical`). The client is
 * a hand-driven stream: nothing on this machine gets isolated.
 */
export async function selfTagged(x: Ctx): Promise<Outcome> {
  const { c } = x;
  // A control agent that claims nothing: if it is not isolated either, the verdict is inconclusive.
  const [id, control] = [await enrollIdentity(c, await enrollmentToken(c)), await enrollIdentity(c, await enrollmentToken(c))];
  x.decoyAgentId = id.agentId;
  const s = new CertifiedClient(c.grpcPort, c.caPem, id);
  const k = new CertifiedClient(c.grpcPort, c.caPem, control);
  s.hello(id.agentId, ["critical"]);
  k.hello(control.agentId, []);
  await until(() => (s.welcomed() || s.error) && (k.welcomed() || k.error), 10_000);
  const ruleId = randomUUID();
  const marker = `adv-critical-${ruleId.slice(0, 8)}`;
  await c.api("POST", "/api/v1/rules", {
    key: c.keys.admin,
    ...json({
      name: "adv-critical.yml",
      yaml: [
        "title: adversarial auto-isolate marker",
        `id: ${ruleId}`,
        "logsource: { product: linux, category: process_creation }",
        "detection:",
        "  sel:",
        `    CommandLine|contains: ${marker}`,
        "  condition: sel",
        "level: critical",
      ].join("\n"),
    }),
  });
  const pb = await c.api("POST", "/api/v1/playbooks", {
    key: c.keys.admin,
    ...json({ yaml: `id: adv-isolate\nname: adversarial isolate\nwhen:\n  rules: [${ruleId}]\nactions:\n  - type: isolate\napproval: auto\n` }),
  });
  s.events(1, [processEvent("/usr/bin/adv", `run ${marker}`)]);
  k.events(1, [processEvent("/usr/bin/adv", `run ${marker}`)]);
  const isolated = async (agentId: string) => {
    const r = await c.api("GET", `/api/v1/commands?agent=${agentId}`, { key: c.keys.admin });
    return !!(r.json?.items as Array<{ type: string }> | undefined)?.some((i) => i.type === "isolate");
  };
  await until(async () => (await isolated(id.agentId)) && (await isolated(control.agentId)), 20_000, 250);
  const [claimer, ctrl] = [await isolated(id.agentId), await isolated(control.agentId)];
  const tags = (await c.api("GET", `/api/v1/agents/${id.agentId}`, { key: c.keys.admin })).json?.tags as string[] | undefined;
  if (pb.status < 300) await c.api("DELETE", "/api/v1/playbooks/adv-isolate", { key: c.keys.admin });
  s.close();
  k.close();
  const inconclusive = pb.status >= 300 ? `inconclusive: playbook refused ${pb.status} ${pb.text.slice(0, 120)}` : !ctrl ? "inconclusive: the control agent was not isolated either" : "";
  return {
    id: "9",
    attack: "Hello claims tag `critical` to dodge auto-isolation",
    held: claimer && ctrl,
    measured: `agent tags ${JSON.stringify(tags ?? [])}; auto-isolation ${claimer ? "issued" : "NOT issued"}${inconclusive ? ` (${inconclusive})` : " (control isolated)"}`,
  };
}
