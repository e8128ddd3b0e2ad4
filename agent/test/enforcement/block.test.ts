import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockManager } from "../../src/enforcement/block";
import { blockIpHandler, unblockIpHandler } from "../../src/enforcement/block-handlers";
import { Nft } from "../../src/enforcement/nft";
import { type NetTopology, createTopology, netnsUnavailableReason, waitFor } from "../helpers/netns";

const PORT = 7500;
const skipReason = await netnsUnavailableReason();
if (skipReason) console.log(`SKIP block tests: ${skipReason}`);

describe.skipIf(skipReason !== null)("IP blocks in a network namespace", () => {
  let topo: NetTopology;
  let nft: Nft;
  let stateDir: string;
  const manager = (now?: () => number): BlockManager => new BlockManager({ nft, stateDir, protectedAddresses: () => [topo.controller.ip4, topo.controller.ip6], now });
  const ctx = { commandId: "c1", local: false };

  beforeAll(async () => {
    topo = await createTopology();
    nft = new Nft(topo.host.run);
    stateDir = mkdtempSync(join(tmpdir(), "vigil-block-"));
    await topo.listen(topo.outside, PORT);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PORT)).toBe(true);
  });
  afterAll(async () => {
    await topo?.destroy();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("a 2 s block drops traffic and the kernel lifts it on time, with no agent involvement", async () => {
    const out = await blockIpHandler(manager()).run({ ip: topo.outside.ip4, ttlSeconds: 2 }, "enforce", ctx);
    const start = Date.now();
    expect(out).toMatchObject({ ok: true, output: { blocked: topo.outside.ip4 } });
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PORT, 300)).toBe(false);
    // The manager object is no longer used: expiry is the kernel's job.
    expect(await waitFor(() => topo.canConnect(topo.host, topo.outside.ip4, PORT, 200), 5000, 0)).toBe(true);
    const elapsed = Date.now() - start;
    console.log(`block expiry observed after ${elapsed} ms (ttl 2000 ms)`);
    expect(elapsed).toBeGreaterThan(1500);
    expect(elapsed).toBeLessThan(3500);
  });

  it("blocks IPv6 separately from IPv4, and unblock lifts it", async () => {
    await blockIpHandler(manager()).run({ ip: topo.outside.ip6 }, "enforce", ctx);
    const listing = await nft.listTable("inet", "vigil_block");
    expect(listing).toContain("ip6 daddr @block6 drop");
    expect(listing).toContain(topo.outside.ip6);
    expect(await topo.canConnect(topo.host, topo.outside.ip6, PORT, 500)).toBe(false);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PORT)).toBe(true);
    // Inbound from the blocked peer is dropped too.
    await topo.listen(topo.host, PORT);
    expect(await topo.canConnect(topo.outside, topo.host.ip6, PORT, 500)).toBe(false);

    const un = await unblockIpHandler(manager()).run({ ip: topo.outside.ip6 }, "enforce", ctx);
    expect(un).toMatchObject({ ok: true, output: { wasBlocked: true } });
    expect(await topo.canConnect(topo.host, topo.outside.ip6, PORT)).toBe(true);
    expect(await unblockIpHandler(manager()).run({ ip: topo.outside.ip6 }, "enforce", ctx)).toMatchObject({ ok: true, output: { wasBlocked: false } });
  });

  it("re-applies persisted blocks at start with their remaining time and drops expired ones", async () => {
    const m = manager();
    await m.block(topo.outside.ip4, { ttlSeconds: 600, commandId: "long" });
    await m.block("198.51.100.0/24", { ttlSeconds: 5, commandId: "short" });
    await m.block("2001:db8::/32", { commandId: "forever" });
    await nft.deleteTable("inet", "vigil_block"); // the reboot

    // The restarted agent starts 10 s later: the 5 s block has run out.
    const later = manager(() => Date.now() + 10_000);
    expect(await later.reapplyOnStart()).toEqual({ reapplied: 2 });
    const listing = (await nft.listTable("inet", "vigil_block")) ?? "";
    expect(listing).toContain(topo.outside.ip4);
    expect(listing).toContain("2001:db8::/32");
    expect(listing).not.toContain("198.51.100.0/24");
    const remaining = /10\.231\.\d+\.\d+ timeout (\d+)m/.exec(listing);
    expect(Number(remaining?.[1])).toBe(9); // 600 s - 10 s → 9m50s
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PORT, 300)).toBe(false);
    expect(
      later
        .list()
        .map((e) => e.commandId)
        .sort(),
    ).toEqual(["forever", "long"]);
    await later.unblock(topo.outside.ip4);
  });

  it("refuses to block the controller, a CIDR covering it, or loopback", async () => {
    const h = blockIpHandler(manager());
    for (const ip of [topo.controller.ip4, topo.subnet4, topo.subnet6, "127.0.0.1", "::1", "0.0.0.0/0"]) {
      const out = await h.run(h.validate({ ip }), "enforce", ctx);
      expect(out.ok, ip).toBe(false);
      expect(out.reason).toMatch(/refusing to block/);
    }
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PORT)).toBe(true);
  });

  it("rejects malformed params naming the field, and never reaches nft with them", () => {
    const h = blockIpHandler(manager());
    expect(() => h.validate({ ip: "1.2.3.4 }; flush ruleset; {" })).toThrow(/^ip: not an IP/);
    expect(() => h.validate({ ip: "10.0.0.0/33" })).toThrow(/ip: bad prefix length/);
    expect(() => h.validate({ ip: "1.2.3.4", ttlSeconds: -1 })).toThrow(/ttlSeconds/);
    expect(() => h.validate({ ip: "1.2.3.4", ttlSeconds: 1.5 })).toThrow(/ttlSeconds/);
    expect(() => h.validate({})).toThrow(/ip: is required/);
    expect(h.validate({ ip: "10.1.2.3/8" })).toEqual({ ip: "10.0.0.0/8", ttlSeconds: undefined });
  });

  it("a corrupt state file is an error, not an empty block list", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-block-bad-"));
    writeFileSync(join(dir, "blocks.json"), "{not json");
    const m = new BlockManager({ nft, stateDir: dir, protectedAddresses: () => [] });
    expect(() => m.list()).toThrow(/corrupt state file/);
    rmSync(dir, { recursive: true, force: true });
  });
});
