import { describe, expect, it } from "vitest";
import type { Event } from "@vigil/proto";
import { buildIocIndex } from "../../src/ioc/ioc-index";
import { matchEvent } from "../../src/ioc/match";
import type { Ioc } from "../../src/ioc/types";

const ioc = (kind: Ioc["kind"], value: string, extra: Partial<Ioc> = {}): Ioc => ({ kind, value, confidence: 70, source: "t", ...extra });
const HASH = "a".repeat(64);

describe("IocIndex", () => {
  const index = buildIocIndex([
    ioc("ip", "203.0.113.9"),
    ioc("cidr", "10.0.0.0/8", { confidence: 20 }),
    ioc("cidr", "10.1.0.0/16", { confidence: 60 }),
    ioc("cidr", "2001:db8::/32"),
    ioc("cidr", "2001:db8:dead::/48", { confidence: 90 }),
    ioc("ip", "2001:db8:beef::1"),
    ioc("domain", "evil.com"),
    ioc("domain", "x.evil.com"),
    ioc("sha256", HASH),
  ]);

  it("matches exact IPs in either spelling", () => {
    expect(index.matchIp("203.0.113.9").map((i) => i.value)).toEqual(["203.0.113.9"]);
    expect(index.matchIp("::ffff:203.0.113.9").map((i) => i.value)).toEqual(["203.0.113.9"]);
    expect(index.matchIp("2001:0db8:beef:0:0:0:0:0001").map((i) => i.value)).toEqual(["2001:db8:beef::1", "2001:db8::/32"]);
    expect(index.matchIp("203.0.113.10")).toEqual([]);
    expect(index.matchIp("not an ip")).toEqual([]);
  });

  it("matches v4 and v6 CIDRs, all or longest prefix", () => {
    expect(index.matchIp("10.1.2.3").map((i) => i.value)).toEqual(["10.1.0.0/16", "10.0.0.0/8"]);
    expect(index.matchIp("10.2.0.1").map((i) => i.value)).toEqual(["10.0.0.0/8"]);
    expect(index.matchIp("2001:db8:dead:1::5").map((i) => i.value)).toEqual(["2001:db8:dead::/48", "2001:db8::/32"]);
    expect(index.matchIp("2001:db9::1")).toEqual([]);
    const longest = buildIocIndex([ioc("cidr", "10.0.0.0/8"), ioc("cidr", "10.1.0.0/16")], { cidrMatch: "longest" });
    expect(longest.matchIp("10.1.2.3").map((i) => i.value)).toEqual(["10.1.0.0/16"]);
    expect(longest.matchIp("fe80::1%eth0")).toEqual([]);
  });

  it("matches a domain and its subdomains, not look-alikes", () => {
    expect(index.matchDomain("a.b.EVIL.com.").map((i) => i.value)).toEqual(["evil.com"]);
    expect(index.matchDomain("y.x.evil.com").map((i) => i.value)).toEqual(["x.evil.com", "evil.com"]);
    expect(index.matchDomain("notevil.com")).toEqual([]);
    expect(index.matchDomain("evil.com.au")).toEqual([]);
  });

  it("skips expired IOCs at lookup time", () => {
    const idx = buildIocIndex([ioc("ip", "1.1.1.1", { expiresAtMs: 1000 })]);
    expect(idx.matchIp("1.1.1.1", 999)).toHaveLength(1);
    expect(idx.matchIp("1.1.1.1", 1000)).toHaveLength(0);
  });

  it("stays fast with thousands of CIDRs", () => {
    const many: Ioc[] = [];
    for (let i = 0; i < 5000; i++) many.push(ioc("cidr", `${(i >> 8) + 1}.${i & 255}.0.0/${16 + (i % 9)}`));
    const idx = buildIocIndex(many);
    const t0 = performance.now();
    let hits = 0;
    for (let i = 0; i < 20000; i++) hits += idx.matchIp(`${(i % 20) + 1}.${i & 255}.1.1`).length;
    expect(hits).toBeGreaterThan(0);
    // Bucketing by prefix length makes a lookup ~9 probes; a linear scan would be ~5000 comparisons.
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("matchEvent", () => {
  const index = buildIocIndex([ioc("ip", "198.51.100.7"), ioc("sha256", HASH, { expiresAtMs: 5000 })]);
  const ev = (body: Event["body"], eventTimeMs = 1000): Event => ({ seq: 1, eventTimeMs, body });

  it("checks the explicit fields of each event type", () => {
    const proc = ev({ $case: "process", process: { sha256: HASH.toUpperCase() } as never });
    expect(matchEvent(index, proc)).toEqual([{ ioc: expect.objectContaining({ kind: "sha256" }), field: "process.sha256", observed: HASH.toUpperCase() }]);
    const file = ev({ $case: "file", file: { sha256After: HASH, sha256Before: "" } as never });
    expect(matchEvent(index, file).map((h) => h.field)).toEqual(["file.sha256After"]);
    const net = ev({ $case: "network", network: { remoteAddress: "::ffff:198.51.100.7" } as never });
    expect(matchEvent(index, net).map((h) => h.field)).toEqual(["network.remoteAddress"]);
    const auth = ev({ $case: "auth", auth: { sourceIp: "198.51.100.7" } as never });
    expect(matchEvent(index, auth).map((h) => h.field)).toEqual(["auth.sourceIp"]);
    expect(matchEvent(index, ev({ $case: "agent", agent: { kind: "x", message: "198.51.100.7", attributes: {} } }))).toEqual([]);
    expect(matchEvent(index, { seq: 1, eventTimeMs: 0, body: undefined })).toEqual([]);
  });

  it("judges expiry at event time unless told otherwise", () => {
    const late = ev({ $case: "process", process: { sha256: HASH } as never }, 6000);
    expect(matchEvent(index, late)).toEqual([]);
    expect(matchEvent(index, late, { nowMs: 100 })).toHaveLength(1);
  });
});

describe("IocIndex.upsert (imports update the live index in place)", () => {
  it("replaces the entry of the same kind, value and source, adds others, and picks up a new CIDR prefix", async () => {
    const { IocIndex } = await import("../../src/ioc/ioc-index");
    const idx = new IocIndex([{ kind: "ip", value: "192.0.2.1", confidence: 40, source: "a" }]);
    idx.upsert({ kind: "ip", value: "192.0.2.1", confidence: 90, source: "a" });
    expect(idx.matchIp("192.0.2.1").map((i) => i.confidence)).toEqual([90]);
    idx.upsert({ kind: "ip", value: "192.0.2.1", confidence: 10, source: "b" });
    expect(idx.matchIp("192.0.2.1").map((i) => `${i.source}:${i.confidence}`)).toEqual(["a:90", "b:10"]);
    idx.upsert({ kind: "cidr", value: "198.51.100.0/24", confidence: 50, source: "a" });
    expect(idx.matchIp("198.51.100.7").map((i) => i.value)).toEqual(["198.51.100.0/24"]);
    expect(idx.size).toBe(3);
  });
});
