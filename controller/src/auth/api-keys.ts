import { createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { ApiKeyEntity } from "../database/entities";
import type { ApiKeyRepository } from "../database/repositories/api-key-repository";
import { mintSecret, parseSecret } from "../trust/secret-token";
import { isRole, type Principal, type Role } from "../http/roles";
import { ScryptPool } from "./scrypt-pool";

export const API_KEY_PREFIX = "vk";
const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };
const SCRYPT_OPTS = { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 };
/** How long a verified key is trusted without re-running scrypt; also the revocation delay across processes. */
const CACHE_MS = 30_000;
/** A key used within this long is charged per id only, not per address, and checked in the scrypt pool's in-use class. */
const IN_USE_MS = 30 * 24 * 3600_000;

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revoked: boolean;
}

function scryptHash(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, SCRYPT.keylen, SCRYPT_OPTS, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashApiSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptHash(secret, salt);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

function parseStored(stored: string): { salt: Buffer; hash: Buffer } | undefined {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || Number(n) !== SCRYPT.N || Number(r) !== SCRYPT.r || Number(p) !== SCRYPT.p || !salt || !hash) return undefined;
  return { salt: Buffer.from(salt, "base64url"), hash: Buffer.from(hash, "base64url") };
}

/**
 * API keys `vk_<id>_<secret>`: the id finds the row, only an scrypt hash of
 * the secret is stored. scrypt is deliberately slow, so a successful check is
 * cached briefly (keyed by an HMAC of the full key under a per-process secret,
 * held in memory only). A check that misses the cache costs exactly one scrypt,
 * on the pool's bounded threads, whether the id exists or not.
 */
export class ApiKeys {
  private readonly cache = new Map<string, { digest: Buffer; principal: Principal; until: number }>();
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly cacheKey = randomBytes(32);
  /** A stored hash no secret matches, with a real salt: an unknown id costs the same scrypt as a wrong secret. */
  private readonly dummy = { salt: randomBytes(16), hash: randomBytes(SCRYPT.keylen) };

  /** id -> whether it is in use, for a second (see inUse). */
  private readonly inUseMemo = new Map<string, { inUse: boolean; until: number }>();

  constructor(
    private readonly repo: ApiKeyRepository,
    private readonly now: () => number = Date.now,
    readonly scrypt: ScryptPool = new ScryptPool(),
  ) {}

  async create(role: Role, name: string, createdBy: string): Promise<{ key: string; view: ApiKeyView }> {
    if (!isRole(role)) throw new RangeError(`role must be one of admin, analyst, integration, readonly`);
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    if (name.length > 128 || /[\u0000-\u001f]/.test(name)) throw new RangeError("name must be at most 128 printable characters");
    const { id, secret, token } = mintSecret(API_KEY_PREFIX);
    const row: ApiKeyEntity = { id, name, role, hash: await hashApiSecret(secret), createdAt: this.now(), createdBy: createdBy.slice(0, 160), lastUsedAt: 0, revokedAt: 0 };
    await this.repo.create(row);
    return { key: token, view: view(row) };
  }

  /** The key's id when it is well formed (the failure limit counts per id before any scrypt). */
  static idOf(key: string): string | undefined {
    return parseSecret(API_KEY_PREFIX, key)?.id;
  }

  /**
   * Whether the key id belongs to a live key used in the last 30 days (one
   * primary-key read, no scrypt): such ids are exempt from the per-address
   * failure limit (they keep the per-id one) and have their own class in the scrypt queue.
   * Remembered for a second per id, so a flood of guesses at one id costs one read, not one each
   * (the answer only picks which failure limit applies; verify() reads the row itself).
   */
  async inUse(id: string): Promise<boolean> {
    const now = Date.now();
    const known = this.inUseMemo.get(id);
    if (known && known.until > now) return known.inUse;
    const inUse = this.isInUse(await this.repo.byId(id));
    if (this.inUseMemo.size >= 10_000) this.inUseMemo.clear();
    this.inUseMemo.set(id, { inUse, until: now + 1000 });
    return inUse;
  }

  private isInUse(row: ApiKeyEntity | null | undefined): boolean {
    return !!row && !row.revokedAt && isRole(row.role) && row.lastUsedAt > this.now() - IN_USE_MS;
  }

  /** The principal of a key verified in the last 30 s, without scrypt; undefined otherwise. */
  cached(key: string): Principal | undefined {
    const parsed = parseSecret(API_KEY_PREFIX, key);
    if (!parsed) return undefined;
    const now = this.now();
    const hit = this.cache.get(parsed.id);
    if (!hit || hit.until <= now || !timingSafeEqual(hit.digest, this.digest(key))) return undefined;
    this.touch(parsed.id, now);
    return hit.principal;
  }

  /**
   * The key's principal, or undefined for anything malformed, unknown, revoked
   * or wrong. Throws ScryptBusy when every scrypt slot and queue place is taken.
   */
  async verify(key: string, lane?: string): Promise<Principal | undefined> {
    const parsed = parseSecret(API_KEY_PREFIX, key);
    if (!parsed) return undefined;
    const hit = this.cached(key);
    if (hit) return hit;
    const row = await this.repo.byId(parsed.id);
    const usable = row && !row.revokedAt && isRole(row.role) ? row : undefined;
    const stored = (usable && parseStored(usable.hash)) || this.dummy;
    // Keys in use are a class of their own (the row is read for every id, so this costs nothing
    // extra); within a class, the lane of whoever is charged for the attempt (the caller says; else
    // the key id), so a flood waits behind itself only.
    const inUse = this.isInUse(usable);
    const got = await this.scrypt.hash(parsed.secret, stored.salt, SCRYPT.keylen, SCRYPT_OPTS, inUse, lane ?? `id:${parsed.id}`);
    const match = got.length === stored.hash.length && timingSafeEqual(got, stored.hash);
    if (!usable || !match || stored === this.dummy) return undefined;
    const now = this.now();
    const principal: Principal = { keyId: usable.id, name: usable.name, role: usable.role as Role };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(usable.id, { digest: this.digest(key), principal, until: now + CACHE_MS });
    this.touch(usable.id, now);
    return principal;
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.repo.list()).map(view);
  }

  revoke(id: string): Promise<boolean> {
    this.cache.delete(id);
    return this.repo.revoke(id, this.now());
  }

  private digest(key: string): Buffer {
    return createHmac("sha256", this.cacheKey).update(key).digest();
  }

  private touch(id: string, now: number): void {
    // At most one write a minute per key: last-used is a hint, not an access log.
    if (now - (this.lastUsedWritten.get(id) ?? 0) < 60_000) return;
    this.lastUsedWritten.set(id, now);
    void this.repo.touch(id, now).catch(() => undefined);
  }
}

function view(r: ApiKeyEntity): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    role: r.role as Role,
    createdAt: new Date(r.createdAt).toISOString(),
    createdBy: r.createdBy,
    lastUsedAt: r.lastUsedAt ? new Date(r.lastUsedAt).toISOString() : null,
    revoked: r.revokedAt > 0,
  };
}
