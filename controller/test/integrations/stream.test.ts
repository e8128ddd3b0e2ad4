import { randomBytes } from "node:crypto";
import { connect as netConnect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { connect, exec, send, sshFailure, T0 } from "../detection/support";
import { sample, StreamClient } from "./support";

/** A client-to-server text frame (clients must mask), for the hand-driven slow client. */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
}

/** Opens a WebSocket to the stream and reports the HTTP status when the upgrade is refused. */
function refusal(url: string, opts: WebSocket.ClientOptions = {}, protocols: string[] = ["vigil.v1"]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts);
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("open", () => reject(new Error("upgrade was accepted")));
    ws.on("error", () => undefined);
  });
}

describe("live stream /api/v1/stream", () => {
  let ctl: TestController;
  let wsUrl: string;
  let readonlyKey: string;
  const clients: StreamClient[] = [];
  const client = (key = ctl.adminKey, opts: WebSocket.ClientOptions = {}) => {
    const c = new StreamClient(ctl.httpUrl, key, opts);
    clients.push(c);
    return c.open();
  };

  beforeAll(async () => {
    // Fast heartbeats, a small send bound and a small events replay buffer, so the tests run in seconds.
    ctl = await startTestController({
      detection: { reorderToleranceMs: 15 * 60_000, idleTickMs: 200 },
      env: { VIGIL_STREAM_HEARTBEAT: "300ms", VIGIL_STREAM_MAX_BUFFERED_BYTES: "262144", VIGIL_STREAM_REPLAY_EVENTS: "50" },
    });
    wsUrl = ctl.httpUrl.replace(/^http/, "ws") + "/api/v1/stream";
    readonlyKey = (await ctl.security.apiKeys.create("readonly", "stream reader", "test")).key;
  });
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await ctl?.dispose();
  });

  it("refuses upgrades without a valid API key, and accepts any role through header, subprotocol or query", async () => {
    expect((await refusal(wsUrl)).status).toBe(401);
    const bad = await refusal(wsUrl, { headers: { authorization: "Bearer vk_0000000000000000_" + "A".repeat(43) } });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body)).toMatchObject({ statusCode: 401, error: "Unauthorized" });
    expect((await refusal(ctl.httpUrl.replace(/^http/, "ws") + "/api/v1/elsewhere", { headers: { authorization: `Bearer ${ctl.adminKey}` } })).status).toBe(404);

    await client(readonlyKey);
    const viaProtocol = new WebSocket(wsUrl, ["vigil.v1", `vigil.key.${readonlyKey}`]);
    await new Promise((r, j) => viaProtocol.once("open", r).once("error", j));
    // The key is never echoed back as the chosen subprotocol.
    expect(viaProtocol.protocol).toBe("vigil.v1");
    viaProtocol.close();
    const viaQuery = new WebSocket(`${wsUrl}?key=${readonlyKey}`);
    await new Promise((r, j) => viaQuery.once("open", r).once("error", j));
    viaQuery.close();
  });

  it("delivers alerts, cases and filtered events with increasing ids; bad input gets an error naming the problem", async () => {
    const c = await client();
    expect((await c.subscribe("alerts", { filter: { minScore: 0 } })).type).toBe("subscribed");
    expect((await c.subscribe("cases")).type).toBe("subscribed");
    expect((await c.subscribe("events", { filter: { type: "auth", agent: "stream-host" } })).type).toBe("subscribed");
    expect((await c.subscribe("events", { filter: { type: "bogus" } })).message).toContain('unknown event type "bogus"');
    expect((await c.subscribe("cases", { filter: { agent: "x" } })).message).toContain('filter "agent" does not apply to topic "cases"');
    expect((await c.subscribe("nope")).message).toContain('"topic" must be one of');
    c.ws.send("not json");
    await waitFor("json error", () => c.of("error").some((m) => m.message === "a message must be JSON"));

    const a = await connect(ctl, "stream-host");
    await send(a, 1, [exec(T0, "/tmp/stream-dropper"), sshFailure(T0 + 1000, "198.51.100.7")]);
    const alert = await waitFor("alert.created", () => c.messages.find((m) => m.type === "alert.created"));
    expect(alert).toMatchObject({ topic: "alerts", data: { agentId: "stream-host", ruleTitle: expect.any(String), score: expect.any(Number) } });
    const opened = await waitFor("case.opened", () => c.messages.find((m) => m.type === "case.opened"));
    expect(opened.data.id).toBe(alert.data.caseId);
    const events = await waitFor("auth event", () => c.data("events").length >= 1 && c.data("events"));
    // The filter passed only the auth event, not the process event.
    expect(events.map((e) => e.type)).toEqual(["event.auth"]);
    expect(events[0].data.auth.sourceIp).toBe("198.51.100.7");
    const ids = c.messages.filter((m) => typeof m.id === "number").map((m) => m.id as number);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    a.close();
  });

  it("delivers agents (online/offline) and commands (issued, result) topics", async () => {
    const c = await client();
    expect((await c.subscribe("agents")).type).toBe("subscribed");
    expect((await c.subscribe("commands")).type).toBe("subscribed");
    const a = await connect(ctl, "topics-host");
    await waitFor("agent online", () => c.data("agents").find((m) => m.data?.id === "topics-host" || m.data?.agentId === "topics-host"));
    const issued = await request(ctl, "POST", "/api/v1/agents/topics-host/isolate", { reason: "stream topics test" });
    expect(issued.status).toBe(202);
    const cmd = await waitFor("command on the stream", () => c.data("commands").find((m) => m.data?.id === issued.body.id));
    expect(cmd.data.type).toBe("isolate");
    a.close();
    await waitFor("agent offline", () => c.data("agents").filter((m) => m.data?.id === "topics-host" || m.data?.agentId === "topics-host").length >= 2);
    // Leave no subscriber behind for the slow-consumer test that follows.
    c.ws.close();
    await waitFor("closed", () => c.ws.readyState === c.ws.CLOSED);
  });

  it("resumes from a last-seen id with exactly the missed messages, and says when it is too far behind", async () => {
    const first = await client();
    await first.subscribe("events", { filter: { agent: "resume-host" } });
    const a = await connect(ctl, "resume-host");
    await send(a, 1, [sshFailure(T0, "203.0.113.1"), sshFailure(T0 + 1, "203.0.113.2")]);
    await waitFor("2 events", () => first.data("events").length === 2);
    const lastId = first.data("events").at(-1)!.id as number;
    first.ws.terminate();

    await send(a, 3, [sshFailure(T0 + 2, "203.0.113.3"), sshFailure(T0 + 3, "203.0.113.4"), sshFailure(T0 + 4, "203.0.113.5")]);
    const back = await client();
    const sub = await back.subscribe("events", { filter: { agent: "resume-host" }, lastId });
    expect(sub).toMatchObject({ type: "subscribed", replayed: 3 });
    expect(sub.gap).toBeUndefined();
    await waitFor("replay", () => back.data("events").length === 3);
    expect(back.data("events").map((m) => m.data.seq)).toEqual([3, 4, 5]);

    // Push the ring buffer (VIGIL_STREAM_REPLAY_EVENTS=50 here) past that id.
    let seq = 6;
    for (let i = 0; i < 3; i++)
      seq = await send(
        a,
        seq,
        Array.from({ length: 20 }, (_, j) => sshFailure(T0 + 10 + i * 20 + j, "203.0.113.9")),
      );
    const late = await client();
    const gap = await late.subscribe("events", { filter: { agent: "resume-host" }, lastId });
    expect(gap.gap).toMatchObject({ lastId, message: expect.stringContaining("too far behind") });
    expect(gap.replayed).toBe(50);
    a.close();
  });

  it("drops a client that stops reading (slow consumer) with close code 4008 instead of buffering", async () => {
    // A raw TCP client: upgrade by hand, subscribe, then stop reading (ws clients resume their own sockets).
    const port = Number(new URL(ctl.httpUrl).port);
    const sock = netConnect(port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    sock.write(
      `GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${ctl.adminKey}\r\n\r\n`,
    );
    let received = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => (received = Buffer.concat([received, d])));
    // Unsolicited pongs keep it alive through the heartbeat until the moment it stops reading.
    const pong = Buffer.from([0x8a, 0x80, 1, 2, 3, 4]);
    const keepAlive = setInterval(() => sock.write(pong), 50);
    await waitFor("upgrade and hello", () => received.includes("101 Switching Protocols") && received.includes('"hello"'));
    sock.write(maskedText(JSON.stringify({ op: "subscribe", topic: "agents" })));
    await waitFor("subscribed", () => received.includes('"subscribed"'));
    sock.pause();
    const before = sample((await request(ctl, "GET", "/metrics")).body, "vigil_stream_drops_total", { reason: "slow_consumer" }) ?? 0;
    // One synchronous burst (the client cannot answer pings while paused, so do it before a heartbeat passes).
    const pad = "x".repeat(64 * 1024);
    let n = 0;
    sock.write(pong);
    clearInterval(keepAlive);
    while (n < 600) ctl.integrations.hub.publish({ topic: "agents", type: "agent.test", time: Date.now(), data: { pad, n: n++ } });
    const m = (await request(ctl, "GET", "/metrics")).body as string;
    expect(sample(m, "vigil_stream_drops_total", { reason: "slow_consumer" })).toBe(before + 1);
    received = Buffer.alloc(0);
    sock.resume();
    // The close frame (opcode 0x88) with code 4008 arrives after the data that was already queued.
    await waitFor("close frame 4008", () => received.includes(Buffer.from([0x0f, 0xa8])) && received.includes("slow consumer"));
    sock.destroy();
  });

  it("pings every heartbeat and drops a client that never answers; the metrics count clients and drops", async () => {
    const healthy = await client();
    const silent = await client(ctl.adminKey, { autoPong: false });
    await waitFor("silent client dropped", () => silent.closed, 10_000);
    expect(silent.closed!.code).toBe(1006);
    expect(healthy.closed).toBeUndefined();
    const m = (await request(ctl, "GET", "/metrics")).body as string;
    expect(sample(m, "vigil_stream_drops_total", { reason: "heartbeat" })).toBeGreaterThanOrEqual(1);
    expect(sample(m, "vigil_stream_clients")).toBe(ctl.integrations.stream.clientCount);
    expect(ctl.integrations.stream.clientCount).toBeGreaterThanOrEqual(1);
  });
});
