import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { RawAgent } from "../support/raw-agent";
import { connect, exec, send, sshFailure, T0 } from "../detection/support";
import { createLogger } from "../../src/logging/logger";
import { requestContext } from "../../src/logging/request-id";
import { sample, StreamClient } from "./support";

describe("metrics and request-scoped logs", () => {
  let ctl: TestController;
  const lines: Array<Record<string, any>> = [];
  const scrape = async () => (await request(ctl, "GET", "/metrics")).body as string;

  beforeAll(async () => {
    const sink = new Writable({
      write: (chunk, _enc, cb) => {
        for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    ctl = await startTestController({ logger: createLogger("info", sink), detection: { reorderToleranceMs: 15 * 60_000, idleTickMs: 200 } });
  });
  afterAll(async () => ctl?.dispose());

  it("/metrics needs a key of any role (a readonly key for Prometheus) and speaks the text format", async () => {
    expect((await request(ctl, "GET", "/metrics", undefined, { authorization: "" })).status).toBe(401);
    const readonly = (await ctl.security.apiKeys.create("readonly", "prometheus", "test")).key;
    const res = await fetch(`${ctl.httpUrl}/metrics`, { headers: { authorization: `Bearer ${readonly}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain.*version=0.0.4/);
    const text = await res.text();
    expect(text).toContain("# TYPE vigil_events_ingested_total counter");
    expect(text).toContain("# TYPE vigil_ingest_lag_seconds histogram");
    expect(text).toContain("process_resident_memory_bytes");
  });

  it("moves when events are stored, alerts raised, commands issued, agents connect and report drops, clients attach", async () => {
    const before = await scrape();
    const processBefore = sample(before, "vigil_events_ingested_total", { type: "process" }) ?? 0;
    const lagBefore = sample(before, "vigil_ingest_lag_seconds_count") ?? 0;
    const a = await connect(ctl, "metrics-host");
    await send(a, 1, [exec(T0, "/tmp/metrics-dropper"), exec(T0 + 1, "/usr/bin/true"), sshFailure(T0 + 2, "192.0.2.1")]);
    await ctl.detection.pipeline.idle();
    const stream = await new StreamClient(ctl.httpUrl, ctl.adminKey).open();
    expect((await request(ctl, "POST", "/api/v1/agents/metrics-host/isolate", { reason: "metrics test" })).status).toBe(202);
    // An agent reporting drops in its status.
    const b = new RawAgent(ctl.grpcPort);
    b.hello("dropping-host", { status: { sensors: [], dropped: { process: 7, file: 2 }, spoolBytes: 100, spoolRecords: 5, isolated: false, spoolDiscardedBytes: 4096 } });
    await waitFor("welcome", () => b.received.some((m) => m.msg?.$case === "welcome"));

    const after = await waitFor("metrics moved", async () => {
      const t = await scrape();
      // Agent reports are read at most once a second per scrape, so wait for the fresh one too.
      const alerted = sample(t, "vigil_alerts_total", { level: "high" }) ?? sample(t, "vigil_alerts_total", { level: "medium" }) ?? sample(t, "vigil_alerts_total", { level: "critical" });
      return alerted && sample(t, "vigil_agent_dropped_events", { type: "process" }) !== undefined ? t : undefined;
    });
    expect(sample(after, "vigil_events_ingested_total", { type: "process" })).toBe(processBefore + 2);
    expect(sample(after, "vigil_events_ingested_total", { type: "auth" })).toBeGreaterThanOrEqual(1);
    expect(sample(after, "vigil_ingest_lag_seconds_count")).toBe(lagBefore + 3);
    expect(sample(after, "vigil_agents_online")).toBe(2);
    expect(sample(after, "vigil_stream_clients")).toBe(1);
    expect(sample(after, "vigil_commands", { state: "sent" }) ?? sample(after, "vigil_commands", { state: "queued" })).toBe(1);
    expect(sample(after, "vigil_agent_dropped_events", { type: "process" })).toBe(7);
    expect(sample(after, "vigil_agent_spool_discarded_bytes")).toBe(4096);
    expect(sample(after, "vigil_ingest_pending_events")).toBe(0);
    expect(sample(after, "vigil_detection_queued_events")).toBe(0);
    stream.close();
    a.close();
    b.close();
  });

  it("echoes or generates X-Request-Id and puts it on the request's log lines", async () => {
    const given = await fetch(`${ctl.httpUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${ctl.adminKey}`, "x-request-id": "trace-abc.123" } });
    expect(given.headers.get("x-request-id")).toBe("trace-abc.123");
    const junk = await fetch(`${ctl.httpUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${ctl.adminKey}`, "x-request-id": "bad id\twith spaces" } });
    const generated = junk.headers.get("x-request-id")!;
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const line = await waitFor("request log line", () => lines.find((l) => l.msg === "http request" && l.requestId === "trace-abc.123"));
    expect(line).toMatchObject({ method: "GET", path: "/api/v1/agents", status: 200, level: 30, keyId: expect.any(String) });
    expect(lines.some((l) => l.requestId === generated)).toBe(true);
    // Any line logged while handling a request carries its id (the logger's mixin reads the request context).
    requestContext.run({ requestId: "inner-1" }, () => ctl.logger.warn("inside a request"));
    expect(lines.find((l) => l.msg === "inside a request")?.requestId).toBe("inner-1");
    // Secrets never reach the log.
    expect(JSON.stringify(lines)).not.toContain(ctl.adminKey);
  });
});
