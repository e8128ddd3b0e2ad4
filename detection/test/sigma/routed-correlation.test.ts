import { describe, expect, it } from "vitest";
import { AuthAction, Event } from "@vigil/proto";
import { compileBuiltinRules, correlationRoutes, DetectionEngine, routeKey, toSigmaEvent, type Match, type RuleSet, type SigmaEvent } from "../../src/sigma";
import { compileOk, finalAlerts } from "./helpers";

const T0 = Date.UTC(2025, 0, 1, 12);
const BRUTE_FORCE = "895fed99-f646-4f2c-90d6-cdcade3a6d70";
const BRUTE_THEN_SUCCESS = "628732a3-3dcd-4159-985a-a4d289ce5365";

function auth(host: string, t: number, ip: string, ok: boolean, user = "root"): SigmaEvent {
  const ev = Event.fromPartial({
    eventTimeMs: t,
    body: { $case: "auth", auth: { action: ok ? AuthAction.AUTH_ACTION_LOGIN_SUCCESS : AuthAction.AUTH_ACTION_LOGIN_FAILURE, user, sourceIp: ip, service: "sshd", method: "password", pid: 7 } },
  });
  return toSigmaEvent(ev, { agentId: host, hostname: host })!;
}

/**
 * Hosts that only match (one `detect` engine each, as the detection workers do) and owners that
 * run correlations: each routed input goes to owner (hash of its route key) mod `owners`.
 */
function routed(ruleset: RuleSet, events: SigmaEvent[], owners: number): Match[] {
  const routes = correlationRoutes(ruleset);
  const hosts = new Map<string, DetectionEngine>();
  const owned = Array.from({ length: owners }, () => new DetectionEngine(ruleset));
  const out: Match[] = [];
  const ownerOf = (key: string) => [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % owners;
  for (const ev of events) {
    const host = String(ev.fields.AgentId);
    let e = hosts.get(host);
    if (!e) hosts.set(host, (e = new DetectionEngine(ruleset)));
    const { matches, feeding } = e.detect(ev);
    out.push(...matches);
    for (const ri of feeding) for (const r of routes[ri]) out.push(...owned[ownerOf(routeKey(r, ev))].accept({ ruleIdx: ri, target: r.target, ev }));
  }
  for (const o of owned) out.push(...o.flush());
  return out;
}

const corr = (ms: Match[]) => finalAlerts(ms).filter((m) => m.kind === "correlation");

describe("correlations routed by group-by value across hosts", () => {
  const { ruleset } = compileBuiltinRules();

  it("a brute force spread over 5 hosts fires its event_count correlation exactly once", () => {
    const evs = Array.from({ length: 10 }, (_, i) => auth(`host-${i % 5}`, T0 + i * 20_000, "203.0.113.9", false));
    const got = corr(routed(ruleset, evs, 4)).filter((m) => m.rule.id === BRUTE_FORCE);
    expect(got).toHaveLength(1);
    expect(got[0].groupBy).toEqual({ SourceIp: "203.0.113.9" });
    // Early firing: the alert describes the fifth failure, one from each host.
    expect(got[0].eventCount).toBe(5);
    expect(new Set(got[0].events.map((e) => e.fields.AgentId)).size).toBe(5);
    // A per-host engine (the old model) sees two failures per host and never fires.
    const perHost = evs.flatMap((ev) => new DetectionEngine(ruleset).process(ev));
    expect(perHost.filter((m) => m.kind === "correlation")).toEqual([]);
  });

  it("routed correlations alert exactly as one engine that saw every host's events (chains included)", () => {
    const evs: SigmaEvent[] = [];
    for (let i = 0; i < 6; i++) evs.push(auth(`h${i % 3}`, T0 + i * 15_000, "198.51.100.4", false));
    evs.push(auth("h4", T0 + 4 * 60_000, "198.51.100.4", true, "alice"));
    for (let i = 0; i < 4; i++) evs.push(auth(`h${i}`, T0 + i * 1000, "192.0.2.1", false));
    evs.sort((a, b) => a.timeMs - b.timeMs);
    const shape = (ms: Match[]) => corr(ms).map((m) => [m.rule.id, JSON.stringify(m.groupBy), m.timeMs, m.eventCount]);
    const one = new DetectionEngine(ruleset);
    const reference = [...evs.flatMap((ev) => one.process(ev)), ...one.flush()];
    for (const owners of [1, 3, 16]) expect(shape(routed(ruleset, evs, owners)).sort()).toEqual(shape(reference).sort());
    expect(shape(reference).map((x) => x[0])).toEqual(expect.arrayContaining([BRUTE_FORCE, BRUTE_THEN_SUCCESS]));
  });

  it("chain steps that group by the same values share a key; an input fed to one correlation only feeds that one", () => {
    const rs = compileOk(
      `title: fail\nid: f\nname: fail\nlogsource: {product: linux}\ndetection: {sel: {Kind: fail}, condition: sel}\n`,
      `title: burst\nid: b\nname: burst\ncorrelation: {type: event_count, rules: [fail], group-by: [Ip], timespan: 10m, condition: {gte: 2}}\n`,
      `title: burst then ok\nid: bo\ncorrelation: {type: temporal_ordered, rules: [burst, ok], group-by: [Ip], timespan: 30m}\n`,
      `title: ok\nid: ok\nname: ok\nlogsource: {product: linux}\ndetection: {sel: {Kind: ok}, condition: sel}\n`,
      `title: many\nid: m\ncorrelation: {type: event_count, rules: [fail], group-by: [User], timespan: 10m, condition: {gte: 3}}\n`,
    );
    const routes = correlationRoutes(rs);
    const idx = (id: string) => rs.rules.findIndex((r) => r.id === id);
    const ev: SigmaEvent = { logsource: { product: "linux" }, fields: { Kind: "fail", Ip: "1.2.3.4", User: "u" }, timeMs: T0 };
    expect(routes[idx("f")].map((r) => [r.targetId, r.anchorId, routeKey(r, ev)])).toEqual([
      ["b", "bo", 'bo|["1.2.3.4"]'],
      ["m", "m", 'm|["u"]'],
    ]);
    expect(routes[idx("ok")].map((r) => routeKey(r, { ...ev, fields: { Kind: "ok", Ip: "1.2.3.4" } }))).toEqual(['bo|["1.2.3.4"]']);
    // Three inputs fire "m" (gte 3) when fed to it, and never when fed to "b" only.
    const fed = (target: string) => {
      const e = new DetectionEngine(rs);
      const out = [0, 1, 2].flatMap((i) => e.accept({ ruleIdx: idx("f"), target: idx(target), ev: { ...ev, timeMs: T0 + i } }));
      return [...out, ...e.flush()].filter((m) => !m.update).map((m) => m.rule.id);
    };
    expect(fed("m")).toEqual(["m"]);
    expect(fed("b")).toEqual([]);
    const e = new DetectionEngine(rs);
    // A target the rule does not feed is refused.
    expect(e.accept({ ruleIdx: idx("ok"), target: idx("m"), ev })).toEqual([]);
  });
});
