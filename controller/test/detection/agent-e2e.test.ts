import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnAgent, type AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { BRUTE_FORCE } from "./support";

/** Classic syslog stamp (local time, no year), as sshd writes to /var/log/auth.log. */
function stamp(ms: number): string {
  const d = new Date(ms);
  const mon = d.toLocaleString("en-US", { month: "short" });
  const p = (n: number) => String(n).padStart(2, "0");
  return `${mon} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const failed = (ms: number, ip: string, user: string, pid: number) => `${stamp(ms)} web1 sshd[${pid}]: Failed password for invalid user ${user} from ${ip} port ${40000 + pid} ssh2\n`;

describe("end to end: the real agent tails an auth log; the controller detects", () => {
  let ctl: TestController;
  let agent: AgentProcess;
  let work: string;
  beforeAll(async () => {
    ctl = await startTestController({ detection: { reorderToleranceMs: 5_000, idleTickMs: 250 } });
    work = mkdtempSync(join(tmpdir(), "vigil-det-e2e-"));
  });
  afterAll(async () => {
    await agent?.stop();
    await ctl?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it("a brute force spread as a real one raises exactly one alert for its IP; failures hours apart raise none", async () => {
    const authLog = join(work, "auth.log");
    writeFileSync(authLog, "");
    agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--auth-log", authLog]);
    await waitFor("the agent online", async () => (await request(ctl, "GET", "/api/v1/agents")).body.items?.some((a: { online: boolean }) => a.online), 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent.output()}`);
    });

    const now = Date.now();
    const slow = "198.51.100.23";
    const attacker = "203.0.113.77";
    // First, in log order: four failures from one address over four hours.
    appendFileSync(authLog, [4, 3, 2, 1].map((h, i) => failed(now - h * 3_600_000, slow, "oracle", 100 + i)).join(""));
    // Then the attack: 14 attempts, 20-40 s apart, ending about a minute ago.
    let t = now - 8 * 60_000;
    const lines: string[] = [];
    for (let i = 0; i < 14; i++) {
      lines.push(failed(t, attacker, `user${i}`, 200 + i));
      t += 20_000 + ((i * 7919) % 20_000);
    }
    appendFileSync(authLog, lines.slice(0, 7).join(""));
    appendFileSync(authLog, lines.slice(7).join(""));

    await waitFor(
      "all 18 auth events stored",
      async () => {
        const r = await request(ctl, "GET", "/api/v1/events?type=auth&limit=100");
        return (r.body.items ?? []).length >= 18;
      },
      30_000,
    );
    const alert = await waitFor("the brute-force alert", async () => (await request(ctl, "GET", `/api/v1/alerts?rule=${BRUTE_FORCE}`)).body.items?.[0], 30_000);
    // Every correlation input is released once a later batch (the agent's own current-time
    // telemetry, past the 5 s tolerance) has gone through the pipeline.
    await ctl.detection.pipeline.idle();
    const seen = ctl.detection.pipeline.stats.processedEvents;
    await waitFor("a later batch through detection", () => ctl.detection.pipeline.stats.processedEvents > seen, 30_000);
    await ctl.detection.pipeline.idle();

    const all = (await request(ctl, "GET", `/api/v1/alerts?rule=${BRUTE_FORCE}`)).body.items;
    expect(all).toHaveLength(1);
    expect(alert.entity).toEqual({ kind: "ip", value: attacker });
    expect((await request(ctl, "GET", `/api/v1/alerts?entity=ip:${slow}`)).body.items).toEqual([]);
    const story = (await request(ctl, "GET", `/api/v1/cases/${alert.caseId}`)).body;
    expect(story.timeline.filter((e: { kind: string }) => e.kind === "event.auth").length).toBeGreaterThanOrEqual(5);
  });
});
