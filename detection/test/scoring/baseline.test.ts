import { describe, expect, it } from "vitest";
import { DEFAULT_BASELINE_CONFIG, loginDeviation, observeLogin, parseLoginBaseline, type LoginBaseline } from "../../src/scoring/baseline";

const DAY = 24 * 3_600_000;
const at = (day: number, hour: number, minute = 0) => Date.UTC(2024, 0, 1) + day * DAY + hour * 3_600_000 + minute * 60_000;

function officeWorker(days: number): LoginBaseline | undefined {
  let b: LoginBaseline | undefined;
  for (let d = 0; d < days; d++) b = observeLogin(b, { user: "alice", sourceIp: "10.0.0.5", timeMs: at(d, 9, d % 50) });
  return b;
}

describe("login baseline", () => {
  it("flags the first login from a new source IP, not from a known one", () => {
    const b = officeWorker(3);
    expect(loginDeviation(b, { user: "alice", sourceIp: "10.0.0.5", timeMs: at(4, 9) })).toEqual([]);
    expect(loginDeviation(b, { user: "alice", sourceIp: "203.0.113.9", timeMs: at(4, 9) })).toEqual([
      { kind: "new_source_ip", detail: "first login of alice from 203.0.113.9 (1 known source address)" },
    ]);
    const after = observeLogin(b, { user: "alice", sourceIp: "203.0.113.9", timeMs: at(4, 9) });
    expect(loginDeviation(after, { user: "alice", sourceIp: "203.0.113.9", timeMs: at(5, 9) })).toEqual([]);
  });

  it("compares addresses in canonical form", () => {
    const b = observeLogin(undefined, { user: "bob", sourceIp: "2001:DB8:0:0::1", timeMs: at(0, 9) });
    expect(b.ips[0]?.ip).toBe("2001:db8::1");
    expect(loginDeviation(b, { user: "bob", sourceIp: "2001:db8::1", timeMs: at(1, 9) })).toEqual([]);
  });

  it("says nothing for a user with no history", () => {
    expect(loginDeviation(undefined, { user: "new", sourceIp: "1.2.3.4", timeMs: at(0, 3) })).toEqual([]);
  });

  it("flags an unusual hour only once enough logins are known", () => {
    const few = officeWorker(DEFAULT_BASELINE_CONFIG.minSamplesForHours - 1);
    expect(loginDeviation(few, { user: "alice", sourceIp: "10.0.0.5", timeMs: at(40, 3) })).toEqual([]);
    const many = officeWorker(40);
    expect(loginDeviation(many, { user: "alice", sourceIp: "10.0.0.5", timeMs: at(41, 3) })).toEqual([
      { kind: "unusual_hour", detail: "login at 03:00 UTC; 0 of 40 past logins were within an hour of it" },
    ]);
    // 10:xx is next to the usual 09:xx, so not unusual.
    expect(loginDeviation(many, { user: "alice", sourceIp: "10.0.0.5", timeMs: at(41, 10, 30) })).toEqual([]);
  });

  it("judges hours in the configured time zone", () => {
    const cfg = { ...DEFAULT_BASELINE_CONFIG, utcOffsetMinutes: 120 };
    let b: LoginBaseline | undefined;
    for (let d = 0; d < 30; d++) b = observeLogin(b, { user: "u", timeMs: at(d, 7) }, cfg); // 09:00 local
    expect(b?.hours[9]).toBe(30);
    expect(loginDeviation(b, { user: "u", timeMs: at(31, 7) }, cfg)).toEqual([]);
    expect(loginDeviation(b, { user: "u", timeMs: at(31, 20) }, cfg)[0]?.detail).toMatch(/^login at 22:00 UTC\+2/);
  });

  it("caps known IPs, evicting the least recently seen", () => {
    const cfg = { ...DEFAULT_BASELINE_CONFIG, maxIps: 3 };
    let b: LoginBaseline | undefined;
    for (const [i, ip] of ["1.1.1.1", "2.2.2.2", "3.3.3.3"].entries()) b = observeLogin(b, { user: "u", sourceIp: ip, timeMs: at(i, 9) }, cfg);
    b = observeLogin(b, { user: "u", sourceIp: "1.1.1.1", timeMs: at(5, 9) }, cfg); // refresh 1.1.1.1
    b = observeLogin(b, { user: "u", sourceIp: "4.4.4.4", timeMs: at(6, 9) }, cfg);
    expect(b.ips.map((k) => k.ip)).toEqual(["3.3.3.3", "1.1.1.1", "4.4.4.4"]);
    expect(b.ips.find((k) => k.ip === "1.1.1.1")).toMatchObject({ count: 2, firstSeenMs: at(0, 9), lastSeenMs: at(5, 9) });
  });

  it("halves the histogram when it grows past its cap, so habits can change", () => {
    const cfg = { ...DEFAULT_BASELINE_CONFIG, maxHourSamples: 10 };
    let b: LoginBaseline | undefined;
    for (let d = 0; d < 11; d++) b = observeLogin(b, { user: "u", timeMs: at(d, 9) }, cfg);
    expect(b?.hours[9]).toBe(5);
    expect(b?.logins).toBe(11);
  });

  it("round-trips through JSON and validates stored state naming the bad field", () => {
    const b = officeWorker(2)!;
    expect(parseLoginBaseline(JSON.parse(JSON.stringify(b)))).toEqual({ ok: true, baseline: b });
    expect(parseLoginBaseline({ ...b, hours: [...b.hours.slice(0, 5), -1, ...b.hours.slice(6)] })).toEqual({ ok: false, error: "baseline.hours[5] must be a non-negative number" });
    expect(parseLoginBaseline({ ...b, ips: [{ ip: "x" }] })).toMatchObject({ ok: false, error: expect.stringContaining("baseline.ips[0]") });
    expect(parseLoginBaseline({ ...b, version: 2 })).toMatchObject({ ok: false, error: "baseline.version must be 1, got 2" });
    expect(parseLoginBaseline(null)).toMatchObject({ ok: false });
  });
});
