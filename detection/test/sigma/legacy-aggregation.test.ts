import { describe, expect, it } from "vitest";
import { AuthAction, Event } from "@vigil/proto";
import { compileRules, DetectionEngine, toSigmaEvent } from "../../src/sigma";

const ctx = { agentId: "a1", hostname: "web-1" };
const T0 = Date.UTC(2025, 0, 1);

// The shape public rule sets still use for counting: `timeframe` plus `| count(...) by ... > N`.
const LEGACY = `title: Failed Logins With Different Accounts From One Source
id: 3e1b8a52-6d0c-4f7e-9a21-0b9c8d7e6f51
status: test
logsource:
    product: linux
    service: auth
detection:
    selection:
        pam_message: authentication failure
        pam_user|exists: true
        pam_rhost|exists: true
    timeframe: 24h
    condition: selection | count(pam_user) by pam_rhost > 3
level: medium
tags:
    - attack.credential_access
`;

function pamFailure(t: number, user: string, ip: string): Event {
  return Event.fromPartial({
    eventTimeMs: t,
    body: {
      $case: "auth",
      auth: { action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, user, sourceIp: ip, method: "pam_unix", service: "sshd", raw: `pam_unix(sshd:auth): authentication failure; rhost=${ip} user=${user}` },
    },
  });
}

function run(text: string, events: Event[]) {
  const { ruleset, errors } = compileRules([{ name: "r.yml", text }]);
  const engine = new DetectionEngine(ruleset);
  const out = events.flatMap((e) => engine.process(toSigmaEvent(e, ctx)!));
  return { errors, alerts: [...out, ...engine.flush()] };
}

describe("legacy aggregation (timeframe + | count())", () => {
  it("count(field) by field > N runs as a value_count correlation under the rule's own identity", () => {
    const four = ["root", "admin", "oracle", "git"].map((u, i) => pamFailure(T0 + i * 60_000, u, "203.0.113.9"));
    const { errors, alerts } = run(LEGACY, four);
    expect(errors).toEqual([]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.rule).toMatchObject({ id: "3e1b8a52-6d0c-4f7e-9a21-0b9c8d7e6f51", title: "Failed Logins With Different Accounts From One Source", level: "medium" });
    // Three accounts, or four spread over two sources, stay below the bar.
    expect(run(LEGACY, four.slice(0, 3)).alerts).toEqual([]);
    expect(
      run(
        LEGACY,
        four.map((e, i) => pamFailure(e.eventTimeMs, ["root", "admin", "oracle", "git"][i]!, i % 2 ? "203.0.113.9" : "203.0.113.10")),
      ).alerts,
    ).toEqual([]);
  });

  it("count() without a field is an event_count; outside the timeframe nothing fires", () => {
    const rule = LEGACY.replace("count(pam_user) by pam_rhost > 3", "count() by pam_rhost >= 3").replace("timeframe: 24h", "timeframe: 5m");
    const close = [0, 1, 2].map((m) => pamFailure(T0 + m * 60_000, "root", "203.0.113.9"));
    expect(run(rule, close).alerts).toHaveLength(1);
    const spread = [0, 4, 8].map((m) => pamFailure(T0 + m * 60_000, "root", "203.0.113.9"));
    expect(run(rule, spread).alerts).toEqual([]);
  });

  it("refuses what has no correlation equivalent, naming it", () => {
    const max = run(LEGACY.replace("count(pam_user)", "max(pam_user)"), []);
    expect(max.errors[0]).toMatchObject({ feature: "aggregation 'max'", message: expect.stringMatching(/'max\(\)' is not supported/) });
    const noWindow = run(LEGACY.replace("    timeframe: 24h\n", ""), []);
    expect(noWindow.errors[0]!.message).toMatch(/needs 'timeframe'/);
    const garbled = run(LEGACY.replace("> 3", "> lots"), []);
    expect(garbled.errors[0]!.message).toMatch(/cannot read the aggregation/);
  });
});

describe("auth field aliases used by public rules", () => {
  it("sudo's USER= (the CVE-2019-14287 '#-1' trick) is matchable as USER", () => {
    const rule = `title: Sudo Negative User Id
id: 9d2f1c3b-7a4e-4c8d-b6f5-1e0a2b3c4d5e
logsource:
    product: linux
    service: sudo
detection:
    selection_user:
        USER:
            - '#-*'
            - '#*4294967295'
    condition: selection_user
level: critical
`;
    const sudo = (target: string) =>
      Event.fromPartial({ eventTimeMs: T0, body: { $case: "auth", auth: { action: AuthAction.AUTH_ACTION_SUDO, user: "alice", targetUser: target, service: "sudo", command: "/usr/bin/id" } } });
    expect(run(rule, [sudo("#-1")]).alerts).toHaveLength(1);
    expect(run(rule, [sudo("root")]).alerts).toEqual([]);
  });
});
