import { describe, expect, it } from "vitest";
import { AuthAction, Event } from "@vigil/proto";
import { compileBuiltinRules, DetectionEngine, toSigmaEvent } from "../../src/sigma";

const ctx = { agentId: "a1", hostname: "web-1" };
const T0 = Date.UTC(2025, 0, 1);

/**
 * What the auth sensor emits for ONE failed password attempt on Debian, as sshd
 * and PAM log it: the pam_unix "authentication failure" line and the "Failed
 * password" line (plus an "Invalid user" notice when the account does not exist).
 */
function attempt(t: number, ip: string, user: string, invalid: boolean): Event[] {
  const base = { sourceIp: ip, user, service: "sshd", pid: 4242 };
  const out = [
    Event.fromPartial({ eventTimeMs: t, body: { $case: "auth", auth: { ...base, action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, method: "pam_unix" } } }),
    Event.fromPartial({ eventTimeMs: t + 2, body: { $case: "auth", auth: { ...base, action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, method: "password", sourcePort: 50000 } } }),
  ];
  if (invalid) out.unshift(Event.fromPartial({ eventTimeMs: t - 1, body: { $case: "auth", auth: { ...base, action: AuthAction.AUTH_ACTION_INVALID_USER, method: "" } } }));
  return out;
}

function alertsFor(events: Event[]) {
  const { ruleset } = compileBuiltinRules();
  const e = new DetectionEngine(ruleset);
  const out = events.flatMap((ev) => e.process(toSigmaEvent(ev, ctx)!));
  return [...out, ...e.flush()].filter((m) => m.rule.title === "SSH Brute Force From One Source");
}

describe("SSH brute force counts attempts, not log lines", () => {
  it("four attempts (each logged two or three times) raise nothing", () => {
    const evs = [0, 30, 60, 90].flatMap((s, i) => attempt(T0 + s * 1000, "203.0.113.80", `user${i}`, i % 2 === 0));
    expect(evs.length).toBe(10);
    expect(alertsFor(evs)).toEqual([]);
  });

  it('method probes ("Failed none") are not counted as guesses', () => {
    const probes = [0, 10, 20, 30, 40, 50].map((s) =>
      Event.fromPartial({
        eventTimeMs: T0 + s * 1000,
        body: { $case: "auth", auth: { action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, sourceIp: "203.0.113.82", user: "admin", service: "sshd", method: "none" } },
      }),
    );
    expect(alertsFor(probes)).toEqual([]);
  });

  it("five attempts raise exactly one alert, whose count is five", () => {
    const evs = [0, 30, 60, 90, 120].flatMap((s) => attempt(T0 + s * 1000, "203.0.113.81", "admin", true));
    const alerts = alertsFor(evs);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].eventCount).toBe(5);
  });
});
