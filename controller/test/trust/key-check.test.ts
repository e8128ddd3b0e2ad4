import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys } from "../../src/auth/api-keys";
import { ApiKeyRepository } from "../../src/database/repositories/api-key-repository";
import { KeyCheck } from "../../src/auth/key-check";
import { RateLimiter } from "../../src/auth/rate-limiter";
import { ScryptPool } from "../../src/auth/scrypt-pool";
import { ApiKeyEntity } from "../../src/database/entities";
import { startTestController, type TestController } from "../support/controller";
import { waitFor } from "../support/wait";

/**
 * Issue #10 class 6: scrypt ran before the failure limit, an unknown key id was
 * 20x cheaper to refuse than a wrong secret, and 400 bad requests made a valid,
 * uncached key wait 1.8 s. Asserted by counting scrypt runs, never by wall clock.
 * Real SQLite keys table; fresh ApiKeys instances stand for an empty cache.
 */
const fakeKey = (id: string, secret = "x".repeat(43)) => `vk_${id}_${secret}`;
const hexId = (n: number) => n.toString(16).padStart(16, "0");

describe("the API key check: constant cost, limited before scrypt, never starved", () => {
  let ctl: TestController;
  let valid: string;
  let validId: string;
  beforeAll(async () => {
    ctl = await startTestController();
    const created = await ctl.security.apiKeys.create("analyst", "in use", "test");
    valid = created.key;
    validId = created.view.id;
    // Used once through the API, so it is a key "in use" (last used recorded).
    expect((await ctl.get("/api/v1/agents", valid)).status).toBe(200);
    await waitFor("last use recorded", async () => (await ctl.dataSource.getRepository(ApiKeyEntity).findOneBy({ id: validId }))!.lastUsedAt > 0);
  });
  afterAll(async () => ctl?.dispose());

  /** Limiters on a stopped clock: no refill during the test, so the counts are exact. */
  const fresh = (pool = new ScryptPool()) => {
    const keys = new ApiKeys(ApiKeyRepository.of(ctl.dataSource), Date.now, pool);
    const t = Date.now();
    return { keys, pool, check: new KeyCheck(keys, new RateLimiter(5, 20, 50_000, () => t), new RateLimiter(5, 20, 50_000, () => t)) };
  };

  it("an unknown id, a revoked key and a wrong secret each cost exactly one scrypt; a malformed key costs none", async () => {
    const { check, pool } = fresh();
    const revoked = await ctl.security.apiKeys.create("readonly", "revoked", "test");
    await ctl.security.apiKeys.revoke(revoked.view.id);
    const cases = [
      ["unknown id", fakeKey("0123456789abcdef")],
      ["wrong secret for an existing id", fakeKey(validId)],
      ["revoked key", revoked.key],
    ] as const;
    for (const [what, key] of cases) {
      const before = pool.runs;
      const r = await check.check(key, `10.1.0.${cases.findIndex((c) => c[1] === key)}`);
      expect(r, what).toMatchObject({ ok: false, status: 401 });
      expect(pool.runs - before, what).toBe(1);
    }
    const before = pool.runs;
    expect(await check.check("vk_nonsense", "10.1.0.9")).toMatchObject({ ok: false, status: 401 });
    expect(pool.runs).toBe(before);
    expect(await check.check(valid, "10.1.0.10")).toMatchObject({ ok: true, principal: { keyId: validId } });
    expect(pool.runs - before).toBe(1);
    // Verified once: the next check of the same key is served from the cache, no scrypt.
    expect(await check.check(valid, "10.1.0.10")).toMatchObject({ ok: true });
    expect(pool.runs - before).toBe(1);
  });

  it("the failure limit comes before scrypt: per address, and per key id across addresses", async () => {
    const { check, pool } = fresh();
    const fromOne: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await check.check(fakeKey(hexId(1000 + i)), "10.2.0.1");
      fromOne.push(r.ok ? 200 : r.status);
    }
    // 40 guesses from one address: the burst of 20 run scrypt and get 401, the other 20 get 429 and run none.
    expect(fromOne).toEqual([...Array(20).fill(401), ...Array(20).fill(429)]);
    expect(pool.runs).toBe(20);
    // From that same address: a working key (in use, not cached here) still authenticates; a never-used one waits.
    expect(await check.check(valid, "10.2.0.1")).toMatchObject({ ok: true, principal: { keyId: validId } });
    const unused = await ctl.security.apiKeys.create("readonly", "never used", "test");
    expect(await check.check(unused.key, "10.2.0.1")).toMatchObject({ ok: false, status: 429 });
    expect(pool.runs).toBe(21);

    // One key id guessed from 60 addresses: cut off per id.
    expect(await check.check(valid, "10.4.0.1")).toMatchObject({ ok: true });
    const runsBefore = pool.runs;
    const statuses = [];
    for (let i = 0; i < 60; i++) {
      const res = await check.check(fakeKey(validId, String(i).padStart(43, "y")), `10.3.${i}.1`);
      statuses.push(res.ok ? 200 : res.status);
    }
    expect(statuses).toEqual([...Array(20).fill(401), ...Array(40).fill(429)]);
    expect(pool.runs - runsBefore).toBe(20);
    // The key's owner, verified before the guessing began, is not locked out while the cache holds the key.
    expect(await check.check(valid, "10.4.0.2")).toMatchObject({ ok: true });
    expect(pool.runs - runsBefore).toBe(20);
  });

  it("after 400 concurrent bad attempts from 400 addresses, a valid uncached key is checked next, not after them", async () => {
    const { check, pool } = fresh(new ScryptPool(2, 32));
    const flood = Array.from({ length: 400 }, (_, i) => check.check(fakeKey(hexId(20_000 + i)), `10.5.${i >> 8}.${i & 255}`));
    const runsWhenSent = pool.runs;
    const mine = await check.check(valid, "10.6.0.1");
    const runsWhenDone = pool.runs;
    const results = await Promise.all(flood);
    expect(mine).toMatchObject({ ok: true, principal: { keyId: validId } });
    // Behind a FIFO queue ours would start after the 32 queued guesses (34+ runs); it goes first, so only the
    // few guesses that reached scrypt while its key row was being read ran before it.
    expect(runsWhenDone - runsWhenSent).toBeLessThanOrEqual(10);
    const busy = results.filter((r) => !r.ok && r.status === 503).length;
    expect(busy).toBeGreaterThanOrEqual(400 - 2 - 32);
    expect(pool.runs).toBeLessThanOrEqual(2 + 32 + 1 + 2);
  });

  it("guesses at a working key's id cannot delay a valid key that was never used (bench:adversarial 6b)", async () => {
    const { check, pool } = fresh(new ScryptPool(2, 32));
    const neverUsed = await ctl.security.apiKeys.create("readonly", "never used", "test");
    // Guesses at the in-use id: charged per id, from one address; 400 of them at once.
    const flood = Array.from({ length: 400 }, () => check.check(fakeKey(validId, "y".repeat(43)), "10.7.0.1"));
    const runsWhenSent = pool.runs;
    const mine = await check.check(neverUsed.key, "10.8.0.1");
    const runsWhenDone = pool.runs;
    await Promise.all(flood);
    expect(mine).toMatchObject({ ok: true, principal: { keyId: neverUsed.view.id } });
    // Behind a priority queue it waited for every admitted guess (about 20); in a class and lane of
    // its own it takes the next turn: only the guesses that reached scrypt while its row was read ran first.
    expect(runsWhenDone - runsWhenSent).toBeLessThanOrEqual(10);
  });
});
