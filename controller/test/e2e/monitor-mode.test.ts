import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../integrations/support";
import { spawnAgent, type AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";

/**
 * A monitor-mode agent (started with the `--enforcement monitor` flag) and an isolate: the API, the
 * command, the webhook and the agent list all say "not enforced (monitor)", never "succeeded".
 * Safety net: the agent's PATH holds an `nft` that always fails, so if monitor mode ever enforced,
 * this machine would not be isolated (the command would fail instead).
 */
describe("monitor mode is visible everywhere", () => {
  let ctl: TestController;
  let rx: Receiver;
  let agent: AgentProcess | undefined;
  let work: string;

  beforeAll(async () => {
    rx = await new Receiver().start();
    ctl = await startTestController({});
    work = mkdtempSync(join(tmpdir(), "vigil-monitor-"));
  });
  afterAll(async () => {
    await agent?.stop();
    await ctl?.dispose();
    await rx?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("GET /agents shows the mode; an isolate reads not_enforced in the command, its result and the webhook", async () => {
    expect((await request(ctl, "POST", "/api/v1/webhooks", { name: "cmds", url: `${rx.url}/cmds`, topics: ["commands"] })).status).toBe(201);
    const bin = join(work, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "nft"), "#!/bin/sh\necho 'nft disabled in this test' >&2\nexit 1\n");
    chmodSync(join(bin, "nft"), 0o755);
    agent = spawnAgent(
      [
        "--controller",
        `127.0.0.1:${ctl.grpcPort}`,
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
    const listed = await waitFor(
      "the agent listed with its mode",
      async () => {
        const items = (await request(ctl, "GET", "/api/v1/agents")).body.items as Array<{ id: string; online: boolean; enforcement: string | null }> | undefined;
        return items?.find((a) => a.online && a.enforcement !== null);
      },
      30_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent!.output()}`);
    });
    expect(listed.enforcement).toBe("monitor");

    const issued = await request(ctl, "POST", `/api/v1/agents/${listed.id}/isolate`, { reason: "monitor-mode test" });
    expect(issued.status, JSON.stringify(issued.body)).toBe(202);
    const done = await waitFor(
      "the result",
      async () => {
        const c = (await request(ctl, "GET", `/api/v1/commands/${issued.body.id}`)).body;
        return c.state !== "queued" && c.state !== "sent" ? c : undefined;
      },
      20_000,
    );
    expect(done).toMatchObject({ state: "not_enforced", reason: "not enforced (monitor)" });
    const hook = await waitFor("the webhook", () =>
      rx
        .at("/cmds")
        .map((r) => JSON.parse(r.body))
        .find((b) => b.data?.id === issued.body.id && b.type !== "command.queued" && b.type !== "command.sent"),
    );
    expect(hook.type).toBe("command.not_enforced");
    expect(rx.at("/cmds").some((r) => JSON.parse(r.body).type === "command.succeeded")).toBe(false);
    const list = (await request(ctl, "GET", `/api/v1/commands?state=not_enforced`)).body.items as Array<{ id: string }>;
    expect(list.map((c) => c.id)).toContain(issued.body.id);
    expect((await request(ctl, "GET", `/api/v1/agents/${listed.id}`)).body.isolated).toBe(false);
  });
});
