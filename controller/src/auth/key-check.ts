import { ApiKeys } from "./api-keys";
import type { RateLimiter } from "./rate-limiter";
import type { Principal } from "./roles";
import { ScryptBusy } from "./scrypt-pool";

export type KeyCheckResult = { ok: true; principal: Principal } | { ok: false; status: 401 | 429 | 503; message: string; retryAfter?: number };

/**
 * The API key check in the order that keeps it cheap to attack: a key verified
 * recently passes from the cache; otherwise an attempt is charged to the
 * client's address and to the key id *before* scrypt runs (and refunded when the
 * key turns out valid), so guesses past the failure limit cost nothing; what
 * remains runs one scrypt on a bounded pool, the same for unknown ids and wrong
 * secrets.
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
    const addrWait = this.byAddress.take(addr);
    if (addrWait) return { ok: false, status: 429, message: "too many failed API key attempts from this address", retryAfter: addrWait };
    if (!id) return invalid();
    const idWait = this.byKeyId.take(`id:${id}`);
    if (idWait) {
      this.byAddress.refund(addr);
      return { ok: false, status: 429, message: "too many failed attempts for this API key id", retryAfter: idWait };
    }
    let principal: Principal | undefined;
    try {
      principal = await this.keys.verify(key);
    } catch (err) {
      this.byAddress.refund(addr);
      this.byKeyId.refund(`id:${id}`);
      if (err instanceof ScryptBusy) return { ok: false, status: 503, message: "too many API key checks in progress; retry shortly", retryAfter: 1 };
      throw err;
    }
    if (!principal) return invalid();
    this.byAddress.refund(addr);
    this.byKeyId.refund(`id:${id}`);
    return { ok: true, principal };
  }
}

function invalid(): KeyCheckResult {
  return { ok: false, status: 401, message: "the API key is not valid (unknown, revoked or malformed)" };
}
