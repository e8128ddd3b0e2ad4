import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INVENTORY_LIMITS, Inventory } from "@vigil/proto";
import { spawnAgent, type AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

/**
 * Host inventory end to end: the real agent collects it in a short-lived child (systeminformation
 * never loads into the agent itself), the controller stores the latest per agent, the API shows it
 * and an analyst can ask for a fresh one. An agent's inventory is held to the shared bounds.
 */
describe("host inventory", () => {
  let ctl: TestController;
  let agent: AgentProcess | undefined;
  let work: string;

  beforeAll(async () => {
    ctl = await startTestController({});
    work = mkdtempSync(join(tmpdir(), "vigil-inventory-"));
  });
  afterAll(async () => {
    await agent?.stop();
    await ctl?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it("the real agent sends its inventory at first connection, and again when an analyst asks", async () => {
    agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", work, "--auth-log", join(work, "none.log")]);
    const id = await waitFor("the agent", async () => (await request(ctl, "GET", "/api/v1/agents")).body.items?.find((a: { online: boolean }) => a.online)?.id as string | undefined, 30_000);
    const first = await waitFor(
      "the first inventory",
      async () => {
        const r = await request(ctl, "GET", `/api/v1/agents/${id}/inventory`);
        return r.status === 200 ? r.body : undefined;
      },
      60_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent!.output()}`);
    });
    expect(first.reason).toBe("first");
    const inv = first.inventory;
    expect(inv.kernel).toBe((await import("node:os")).release());
    expect(inv.cpuCores).toBeGreaterThan(0);
    expect(Number(inv.memoryBytes)).toBeGreaterThan(0);
    expect(inv.users.some((u: { name: string; uid: number }) => u.name === "root" && u.uid === 0)).toBe(true);
    expect(inv.disks.length).toBeGreaterThan(0);
    // This machine is Debian: dpkg's database lists the packages.
    expect(inv.packages.some((p: { name: string }) => p.name === "dpkg")).toBe(true);
    expect(inv.packagesTotal).toBe(inv.packages.length);
    // The controller's own gRPC port is listening on this host.
    expect(inv.listeners.some((l: { port: number }) => l.port === ctl.grpcPort)).toBe(true);

    const readonly = (await ctl.security.apiKeys.create("readonly", "ro", "test")).key;
    expect((await request(ctl, "POST", `/api/v1/agents/${id}/inventory/refresh`, undefined, { authorization: `Bearer ${readonly}` })).status).toBe(403);
    const analyst = (await ctl.security.apiKeys.create("analyst", "an", "test")).key;
    const asked = await request(ctl, "POST", `/api/v1/agents/${id}/inventory/refresh`, undefined, { authorization: `Bearer ${analyst}` });
    expect(asked.status).toBe(202);
    const second = await waitFor(
      "the requested inventory",
      async () => {
        const r = await request(ctl, "GET", `/api/v1/agents/${id}/inventory`);
        return r.body.reason === "requested" ? r.body : undefined;
      },
      60_000,
    );
    expect(Date.parse(second.receivedAt)).toBeGreaterThan(Date.parse(first.receivedAt));
  });

  it("refresh of an agent that is not connected says so", async () => {
    const raw = new RawAgent(ctl.grpcPort);
    raw.hello("inventory-gone");
    await waitFor("the raw agent registered", async () => (await request(ctl, "GET", "/api/v1/agents/inventory-gone")).status === 200, 10_000);
    raw.close();
    await waitFor("the raw agent gone", async () => (await request(ctl, "POST", "/api/v1/agents/inventory-gone/inventory/refresh")).status === 409, 10_000);
    expect((await request(ctl, "GET", "/api/v1/agents/no-such-agent/inventory")).status).toBe(404);
  });

  it("an agent's oversized inventory is cut to the shared bounds, and the cut is said", async () => {
    const raw = new RawAgent(ctl.grpcPort);
    raw.hello("inventory-hostile");
    await waitFor("welcome", () => (raw.received.some((m) => m.msg?.$case === "welcome") ? true : undefined), 10_000);
    const long = "x".repeat(10_000);
    raw.send({
      msg: {
        $case: "inventory",
        inventory: Inventory.fromPartial({
          collectedAtMs: Date.now(),
          reason: long,
          os: long,
          packages: Array.from({ length: INVENTORY_LIMITS.packages + 500 }, (_, i) => ({ name: `p${i}`, version: "1.0-" + i })),
          users: [{ name: long, uid: 0, shell: "/bin/sh", home: "/" }],
        }),
      },
    });
    const got = await waitFor(
      "the stored inventory",
      async () => {
        const r = await request(ctl, "GET", "/api/v1/agents/inventory-hostile/inventory");
        return r.status === 200 ? r.body : undefined;
      },
      15_000,
    );
    expect(got.inventory.packages).toHaveLength(INVENTORY_LIMITS.packages);
    expect(got.inventory.os.length).toBe(INVENTORY_LIMITS.text);
    expect(got.reason.length).toBeLessThanOrEqual(32);
    expect(got.inventory.users[0].name.length).toBe(INVENTORY_LIMITS.text);
    expect(got.inventory.errors.some((e: string) => e.startsWith(`packages: ${INVENTORY_LIMITS.packages + 500} cut to`))).toBe(true);
    raw.close();
  });
});
