import { describe, expect, it } from "vitest";
import type { LoginBaselineRepository } from "../../src/database/repositories/login-baseline-repository";
import { LoginBaselines } from "../../src/detection/login-baselines";

/**
 * A user's baseline row is shared by every replica; writing it with every detection chunk made the
 * replicas' alert transactions queue on its lock (bench:scale). Writes are taken at most once per
 * interval, in user order (no lock-order deadlock between replicas), and all at once on shutdown.
 */
describe("login baselines are written back at most once per interval", () => {
  const repo = { all: async () => [], upsertWrite: (user: string, _b: unknown, at: number) => ({ sql: user, params: [at] }) } as unknown as LoginBaselineRepository;
  const setup = () => {
    let now = 0;
    const b = new LoginBaselines(repo, () => now, 2_000);
    const login = (user: string) => b.observe({ user, sourceIp: "10.0.0.1", timeMs: now });
    return { b, login, at: (t: number) => (now = t) };
  };

  it("writes the users changed since the last write, sorted, once the interval has passed", () => {
    const { b, login, at } = setup();
    login("zed");
    login("alice");
    expect(b.takeWrites().map((s) => s.sql)).toEqual(["alice", "zed"]);
    at(500);
    login("carol");
    expect(b.takeWrites()).toEqual([]);
    at(1_999);
    expect(b.takeWrites()).toEqual([]);
    at(2_000);
    login("bob");
    expect(b.takeWrites().map((s) => s.sql)).toEqual(["bob", "carol"]);
    expect(b.takeWrites()).toEqual([]);
  });

  it("takes everything still unwritten when asked for all (shutdown), and nothing twice", () => {
    const { b, login, at } = setup();
    login("alice");
    b.takeWrites();
    at(100);
    login("alice");
    login("dave");
    expect(b.takeWrites(true).map((s) => s.sql)).toEqual(["alice", "dave"]);
    expect(b.takeWrites(true)).toEqual([]);
  });
});
