import { ApiKeys } from "./api-keys";
import type { RateLimiter } from "./rate-limiter";
import type { Principal } from "../http/roles";
import { ScryptBusy } from "./scrypt-pool";

export type KeyCheckResult = { ok: true; principal: Principal } | { ok: false; status: 401 | 429 | 503; message: string; retryAfter?: number };

/**
 * The API key check in the order that keeps it cheap to attack: a key verified
 * recently passes from the cache; otherwise an attempt is charged to the
 * client's address and to the key id *before* scrypt runs (and refunded when the
 * key turns out valid), so guesses past the failure limit cost nothing; what
 * remains runs one scrypt on a bounded pool, the same for unknown ids and wrong
 * secrets. An id in use (a live key used in the last 30 days) is charged per id
 * only, so a flood of guesses from a shared address (a NAT, loopback) does not
 * lock out the working keys behind it; guesses at that id are still cut off by
 * its own limit.
 */
export class KeyCheck {
  constructor(
    readonly keys: ApiKeys,
    private readonly byAddress: RateLimiter,
    private readonly byKeyId: RateLimiter,
  ) {}

  async check(key: string | undefined, client: string): Promise<KeyCheckResult> {
    if (!key) return { ok: false, status: 401, message: "an API key is required: send Authorization: Bearer <key> or X-Api-Key: <key>" };
    const cached = this.keys.cached(key);
    if (cached) return { ok: true, principal: cached };
    const addr = `addr:${client}`;
    const id = ApiKeys.idOf(key);
    const byAddress = !id || !(await this.keys.inUse(id));
    if (byAddress) {
      const addrWait = this.byAddress.take(addr);
      if (addrWait) return { ok: false, status: 429, message: "too many failed API key attempts from this address", retryAfter: addrWait };
    }
    if (!id) return invalid();
    const refund = () => {
      if (byAddress) this.byAddress.refund(addr);
      this.byKeyId.refund(`id:${id}`);
    };
    const idWait = this.byKeyId.take(`id:${id}`);
    if (idWait) {
      if (byAddress) this.byAddress.refund(addr);
      return { ok: false, status: 429, message: "too many failed attempts for this API key id", retryAfter: idWait };
    }
    let principal: Principal | undefined;
    try {
      principal = await this.keys.verify(key, byAddress ? addr : `id:${id}`);
    } catch (err) {
      refund();
      if (err instanceof ScryptBusy) return { ok: false, status: 503, message: "too many API key checks in progress; retry shortly", retryAfter: 1 };
      throw err;
    }
    if (!principal) return invalid();
    refund();
    return { ok: true, principal };
  }
}

function invalid(): KeyCheckResult {
  return { ok: false, status: 401, message: "the API key is not valid (unknown, revoked or malformed)" };
}
