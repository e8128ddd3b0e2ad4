import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus } from "../../src/bus/nats-connection";
import { BusNames, deleteAllWithPrefix } from "../../src/bus/streams";
import { Receiver, sample, StreamClient } from "../integrations/support";
import { ROOT, spawnAgent, type AgentProcess } from "../support/agent-process";
import { createPgDatabase } from "../support/controller";
import { freePort, startControllerProcess, type ControllerProcess } from "../support/controller-process";
import { waitFor } from "../support/wait";

/**
 * Three controller processes on one PostgreSQL and one NATS JetStream (real, as in CI), split by
 * role (A api, B worker, C ingest), a real agent on replica C. A command issued through replica A's API reaches the agent, and its result shows in
 * A's API and on A's WebSocket; every replica lists the agent online; a webhook created through B
 * gets each notice once though three delivery workers share the outbox. A rule uploaded through A
 * fires on B's detection; an inventory asked through A and a policy stored through B reach the agent.
 */
const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const names = new BusNames(`tc${randomBytes(4).toString("hex")}`);
const cleanups: Array<() => unknown> = [];

interface Replica {
  name: string;
  proc: ControllerProcess;
  dataDir: string;
}

async function cli(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "controller/bin/vigil-controller.js"), ...args]);
  return stdout;
}

async function api(r: Replica, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(r.proc.httpUrl + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

describe("distributed mode: commands, presence, live stream and webhooks across three replicas", () => {
  let databaseUrl: string;
  let A: Replica, B: Replica, C: Replica;
  let key: string;
  let rx: Receiver;

  beforeAll(async () => {
    const pg = await createPgDatabase();
    cleanups.push(pg.drop);
    databaseUrl = pg.url;
    rx = await new Receiver().start();
    cleanups.push(() => rx.close());
    // The split deployment: A serves only the API, B stores and detects (worker), C holds agent streams (ingest).
    const role: Record<string, string> = { A: "api", B: "worker", C: "ingest" };
    const env = (name: string) => ({ VIGIL_NATS_URL: NATS_URL, VIGIL_NATS_PREFIX: names.prefix, VIGIL_REPLICA_ID: name, VIGIL_ROLE: role[name]!, VIGIL_SIGMAHQ_PACK: "off" });
    const start = async (name: string, dataDir: string): Promise<Replica> => {
      const proc = await startControllerProcess({ grpcPort: await freePort(), dataDir, databaseUrl, env: env(name), readyTimeoutMs: 60_000 });
      cleanups.push(() => proc.stop("SIGKILL"));
      return { name, proc, dataDir };
    };
    const dir = (n: string) => {
      const d = mkdtempSync(join(tmpdir(), `vigil-cluster-${n}-`));
      cleanups.push(() => rmSync(d, { recursive: true, force: true }));
      return d;
    };
    // A first: it migrates the database and makes the keys; B and C get copies (the command key
    // must be one across replicas: the agent checks every command against the key its Welcome gave).
    A = await start("A", dir("a"));
    const [b, c] = [dir("b"), dir("c")];
    for (const d of [b, c]) for (const sub of ["keys", "ca"]) cpSync(join(A.dataDir, sub), join(d, sub), { recursive: true });
    [B, C] = await Promise.all([start("B", b), start("C", c)]);
    key = (await cli(["apikey", "create", "--role", "admin", "--name", "cluster test", "--database", databaseUrl, "--data-dir", A.dataDir])).split("\n")[0]!.trim();
  }, 180_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    const nc = await connectBus({ url: NATS_URL, name: "cluster-commands-cleanup", log: () => undefined });
    await deleteAllWithPrefix(nc, names).catch(() => undefined);
    await closeBus(nc);
  });

  it("a command issued on A reaches the agent on C; the result shows on A (API and WebSocket); the webhook gets each notice once; rules, inventory requests and policy cross replicas", async () => {
    // A webhook made through B: A and C (which make the command's notices) must learn of it.
    const hook = await api(B, key, "POST", "/api/v1/webhooks", { name: "cluster", url: `${rx.url}/cmds`, topics: ["commands", "agents"] });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const ws = await new StreamClient(A.proc.httpUrl, key).open();
    cleanups.push(() => ws.close());
    expect((await ws.subscribe("commands")).type).toBe("subscribed");
    expect((await ws.subscribe("agents")).type).toBe("subscribed");
    expect((await ws.subscribe("alerts")).type).toBe("subscribed");

    // A real agent in monitor mode on C; its PATH holds an nft that always fails, so an isolate can never cut this machine off.
    const work = mkdtempSync(join(tmpdir(), "vigil-cluster-agent-"));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const bin = join(work, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "nft"), "#!/bin/sh\necho 'nft disabled in this test' >&2\nexit 1\n");
    chmodSync(join(bin, "nft"), 0o755);
    const agent: AgentProcess = spawnAgent(
      [
        "--controller",
        `127.0.0.1:${C.proc.grpcPort}`,
        "--watch",
        work,
        "--auth-log",
        join(work, "none.log"),
        "--enforcement",
        "monitor",
        "--heartbeat-ms",
        "500",
        "--sensors",
        "audit=false,syslog=false,network=false",
      ],
      { env: { PATH: `${bin}:/bin` } },
    );
    cleanups.push(() => agent.stop("SIGKILL"));

    // Presence: every replica lists it online, though only C holds its stream.
    const onlineOn = async (r: Replica) =>
      waitFor(
        `the agent online on ${r.name}`,
        async () => ((await api(r, key, "GET", "/api/v1/agents")).body.items as Array<{ id: string; online: boolean; connected: boolean }> | undefined)?.find((a) => a.online),
        30_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nagent:\n${agent.output().slice(-2000)}\nC:\n${C.proc.output().slice(-2000)}`);
      });
    const agentId = (await onlineOn(C)).id;
    for (const r of [A, B]) expect((await onlineOn(r)).id).toBe(agentId);
    await waitFor("agent.online on A's stream (made on C)", () => ws.data("agents").find((m) => m.type === "agent.online" && m.data.agentId === agentId));

    const issued = await api(A, key, "POST", `/api/v1/agents/${agentId}/isolate`, { reason: "cluster test" });
    expect(issued.status, JSON.stringify(issued.body)).toBe(202);
    const id = issued.body.id as string;
    const done = await waitFor(
      "the result through A's API",
      async () => {
        const c = (await api(A, key, "GET", `/api/v1/commands/${id}`)).body;
        return c.state !== "queued" && c.state !== "sent" ? c : undefined;
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nagent:\n${agent.output().slice(-2000)}\nA:\n${A.proc.output().slice(-2000)}\nC:\n${C.proc.output().slice(-2000)}`);
    });
    // The agent checked the signature made on A against the key C announced, and answered C.
    expect(done).toMatchObject({ state: "not_enforced", reason: "not enforced (monitor)", agentId });

    // A's WebSocket: queued (made on A), sent and the result (made on C), each exactly once.
    const types = ["command.queued", "command.sent", "command.not_enforced"];
    await waitFor("the result on A's WebSocket", () => ws.data("commands").some((m) => m.data.id === id && m.type === "command.not_enforced"));
    const onWs = ws.data("commands").filter((m) => m.data.id === id);
    expect(onWs.map((m) => m.type).sort()).toEqual([...types].sort());
    expect(new Set(onWs.map((m) => m.id)).size).toBe(onWs.length);

    // The webhook: one delivery per notice, though A's, B's and C's workers all scan the outbox.
    const delivered = await waitFor(
      "every delivery of the command's notices",
      async () => {
        const all = (await api(B, key, "GET", `/api/v1/webhooks/${hook.body.id}/deliveries?limit=100`)).body.items as Array<{ state: string; type: string; notice: { data: { id?: string } } }>;
        const mine = all.filter((d) => d.notice.data.id === id);
        return mine.length === types.length && mine.every((d) => d.state === "delivered") ? mine : undefined;
      },
      30_000,
    );
    expect(delivered.map((d) => d.type).sort()).toEqual([...types].sort());
    const received = rx
      .at("/cmds")
      .map((r) => JSON.parse(r.body) as { type: string; data: { id?: string } })
      .filter((b) => b.data.id === id);
    expect(received.map((b) => b.type).sort()).toEqual([...types].sort());

    // An inventory asked for through A comes from the agent on C, stored and read back through A.
    // (After the one the agent sends at connect: while it collects, the agent ignores another ask.)
    const before = await waitFor(
      "the connect-time inventory",
      async () => {
        const r = await api(A, key, "GET", `/api/v1/agents/${agentId}/inventory`);
        return r.status === 200 ? (r.body as { collectedAt: string }) : undefined;
      },
      30_000,
    );
    expect((await api(A, key, "POST", `/api/v1/agents/${agentId}/inventory/refresh`)).status).toBe(202);
    await waitFor("the requested inventory through A", async () => {
      const inv = (await api(A, key, "GET", `/api/v1/agents/${agentId}/inventory`)).body as { reason?: string; collectedAt?: string };
      return inv.reason === "requested" && inv.collectedAt !== before.collectedAt;
    });

    // A rule uploaded through A (api) runs where detection runs (B, worker): an exec on the agent's host
    // (reported to C, stored by B) raises its alert, seen through A's API and on A's WebSocket.
    const marker = `vigil-marker-${randomBytes(4).toString("hex")}`;
    const ruleId = "5c1d7e4a-8f00-4c2b-9a51-" + randomBytes(6).toString("hex");
    const rule = await api(A, key, "POST", "/api/v1/rules?name=cluster-marker.yml", {
      yaml: `title: Cluster test marker\nid: ${ruleId}\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel: {Image|endswith: /${marker}}\n  condition: sel\nlevel: high\n`,
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    cpSync("/bin/sleep", join(work, marker));
    chmodSync(join(work, marker), 0o755);
    // Run until the alert is seen: the agent's process sensor polls /proc, so the exec must outlive a poll.
    const marked = spawn(join(work, marker), ["60"], { stdio: "ignore" });
    cleanups.push(() => marked.kill("SIGKILL"));
    const alert = await waitFor(
      "the uploaded rule's alert through A",
      async () => ((await api(A, key, "GET", `/api/v1/alerts?agent=${agentId}`)).body.items as Array<{ id: string; rule: { id: string } }>).find((a) => a.rule.id === ruleId),
      45_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nB:\n${B.proc.output().slice(-2000)}\nagent:\n${agent.output().slice(-1500)}`);
    });
    marked.kill("SIGKILL");
    await waitFor("alert.created on A's stream (made on B)", () => ws.data("alerts").find((m) => m.type === "alert.created" && m.data.id === alert.id));
    expect(ws.data("alerts").filter((m) => m.type === "alert.created" && m.data.id === alert.id)).toHaveLength(1);

    // A new agent policy stored through B reaches the agent held by C (signed with the one command key).
    const { BUILTIN_RULES } = await import("@vigil/detection");
    const builtinId = /^id:\s*(\S+)/m.exec(BUILTIN_RULES[0]!.text)![1]!;
    const put = await api(B, key, "PUT", "/api/v1/agent-policy", { rules: [{ id: builtinId }], actions: [] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await waitFor("the policy applied by the agent on C", () => /local policy applied[^\n]*"version":\s*1\b/.test(agent.output()), 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${agent.output().slice(-3000)}`);
    });

    // The agent leaves: C says so, and A shows it offline without waiting for a timeout.
    await agent.stop("SIGTERM");
    await waitFor("the agent offline on A", async () => {
      const a = (await api(A, key, "GET", `/api/v1/agents/${agentId}`)).body as { online: boolean; connected: boolean };
      return !a.online && !a.connected;
    });
    await waitFor("agent.offline on A's stream", () => ws.data("agents").some((m) => m.type === "agent.offline" && m.data.agentId === agentId));
    const agentNotices = ws.data("agents").filter((m) => m.data.agentId === agentId);
    expect(agentNotices.filter((m) => m.type === "agent.online")).toHaveLength(1);

    // Each replica hears the two others, and nothing it read from NATS was refused.
    for (const r of [A, B, C]) {
      const metrics = (await api(r, key, "GET", "/metrics")).body as string;
      expect(sample(metrics, "vigil_cluster_peers"), r.name).toBe(2);
      expect(sample(metrics, "vigil_cluster_messages_refused_total", { kind: "notice" }) ?? 0).toBe(0);
    }
  }, 150_000);
});
