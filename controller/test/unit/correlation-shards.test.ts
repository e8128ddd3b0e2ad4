/**
 * CorrelationShards on its own (pure: the built-in rules, no worker): each correlation group runs on
 * the clock of the hosts that feed it, so a host's backlog is on time for its own groups however
 * far ahead other groups are; a host joining a group with input older than the group's clock by
 * more than the tolerance plus the timespan is late; groups past their windows are forgotten.
 */
import { describe, expect, it } from "vitest";
import { AuthAction, Event } from "@vigil/proto";
import { compileBuiltinRules, correlationRoutes, routeKey, toSigmaEvent, type Match } from "@vigil/detection";
import { CorrelationShards, type ShardInput } from "../../src/detection/correlation-shards";

const BRUTE_FORCE = "895fed99-f646-4f2c-90d6-cdcade3a6d70";
const MIN = 60_000;
const TOLERANCE = MIN;

describe("CorrelationShards: one clock per correlation group", () => {
  const { ruleset } = compileBuiltinRules();
  const routes = correlationRoutes(ruleset);
  let wall = Date.UTC(2026, 0, 1, 12);
  const shards = new CorrelationShards(
    ruleset,
    () => new Map(),
    { outOfOrderToleranceMs: TOLERANCE },
    TOLERANCE,
    5_000,
    () => wall,
  );

  /** The routed inputs of one failed login, as the detection worker makes them. */
  function failure(agentId: string, timeMs: number, ip: string): ShardInput[] {
    const ev = toSigmaEvent(
      Event.fromPartial({
        seq: 1,
        eventTimeMs: timeMs,
        body: { $case: "auth", auth: { action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, user: "root", sourceIp: ip, service: "sshd", method: "password" } },
      }),
      { agentId, hostname: agentId },
    )!;
    const ri = ruleset.rules.findIndex((r) => r.name === "vigil_ssh_failed_login");
    return routes[ri].map((r) => ({ partition: 0, key: routeKey(r, ev), anchor: r.anchorId, agentId, rule: ruleset.rules[ri].id, target: r.targetId, ev }));
  }
  const fired = (ms: Match[]) => ms.filter((m) => m.rule.id === BRUTE_FORCE && !m.update);
  const feed = (inputs: ShardInput[]) => inputs.flatMap((i) => shards.accept(i));

  it("a backlog two hours old is on time for its own group while another group is at the wall clock", () => {
    // Host a, live: five failures from one IP, one group at the wall clock.
    const live = Array.from({ length: 5 }, (_, i) => feed(failure("a", wall - 50_000 + i * 10_000, "192.0.2.1"))).flat();
    expect(fired(live)).toHaveLength(1);
    // Host b replays its spool: a brute force two hours ago from another IP (its own group).
    const old = wall - 2 * 60 * MIN;
    const backlog = Array.from({ length: 5 }, (_, i) => feed(failure("b", old + i * 10_000, "192.0.2.2"))).flat();
    expect(fired(backlog)).toHaveLength(1);
    expect(fired(backlog)[0].groupBy).toEqual({ SourceIp: "192.0.2.2" });
  });

  it("a host joining a group with input older than its clock by more than tolerance + timespan is late for it", () => {
    // Host c's failures from the first IP, 30 minutes behind that group's clock (tolerance 1 min + timespan 10 min).
    const late = Array.from({ length: 5 }, (_, i) => feed(failure("c", wall - 30 * MIN + i * 1_000, "192.0.2.1"))).flat();
    expect(fired(late)).toEqual([]);
  });

  it("forgets groups whose windows have all passed, as their hosts' clocks move on", () => {
    const before = shards.stats.groups;
    expect(before).toBeGreaterThanOrEqual(4);
    // An hour later every host has sent something: each group's clock passes its last window.
    wall += 60 * MIN;
    shards.clocks(new Map(["a", "b", "c"].map((h) => [h, wall])));
    expect(shards.stats.groups).toBe(0);
    expect(shards.stats.unknownRules).toBe(0);
  });
});
