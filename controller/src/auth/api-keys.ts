import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { DataSource, Repository } from "typeorm";
import { ApiKeyEntity } from "../database/entities";
import { mintSecret, parseSecret, sha256Hex } from "../trust/secret-token";
import { isRole, type Principal, type Role } from "./roles";

export const API_KEY_PREFIX = "vk";
const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };
/** How long a verified key is trusted without re-running scrypt; also the revocation delay across processes. */
const CACHE_MS = 30_000;

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
  return new Promise((resolve, reject) => scrypt(secret, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashApiSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptHash(secret, salt);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

async function verifyApiSecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || Number(n) !== SCRYPT.N || Number(r) !== SCRYPT.r || Number(p) !== SCRYPT.p || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const got = await scryptHash(secret, Buffer.from(salt, "base64url"));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * API keys `vk_<id>_<secret>`: the id finds the row, only an scrypt hash of
 * the secret is stored. scrypt is deliberately slow, so a successful check is
 * cached briefly (keyed by a sha256 of the full key, held in memory only).
 */
export class ApiKeys {
  private readonly repo: Repository<ApiKeyEntity>;
  private readonly cache = new Map<string, { digest: string; principal: Principal; until: number }>();
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(ds: DataSource, private readonly now: () => number = Date.now) {
    this.repo = ds.getRepository(ApiKeyEntity);
  }

  async create(role: Role, name: string, createdBy: string): Promise<{ key: string; view: ApiKeyView }> {
    if (!isRole(role)) throw new RangeError(`role must be one of admin, analyst, integration, readonly`);
    if (name.length > 128 || /[\u0000-\u001f]/.test(name)) throw new RangeError("name must be at most 128 printable characters");
    const { id, secret, token } = mintSecret(API_KEY_PREFIX);
    const row = this.repo.create({ id, name, role, hash: await hashApiSecret(secret), createdAt: this.now(), createdBy: createdBy.slice(0, 160), lastUsedAt: 0, revokedAt: 0 });
    await this.repo.insert(row);
    return { key: token, view: view(row) };
  }

  /** The key's principal, or undefined for anything malformed, unknown, revoked or wrong. */
  async verify(key: string): Promise<Principal | undefined> {
    const parsed = parseSecret(API_KEY_PREFIX, key);
    if (!parsed) return undefined;
    const now = this.now();
    const digest = sha256Hex(key);
    const hit = this.cache.get(parsed.id);
    if (hit && hit.until > now && hit.digest === digest) {
      this.touch(parsed.id, now);
      return hit.principal;
    }
    const row = await this.repo.findOneBy({ id: parsed.id });
    if (!row || row.revokedAt || !isRole(row.role)) return undefined;
    if (!(await verifyApiSecret(parsed.secret, row.hash))) return undefined;
    const principal: Principal = { keyId: row.id, name: row.name, role: row.role };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(row.id, { digest, principal, until: now + CACHE_MS });
    this.touch(row.id, now);
    return principal;
  }

  async list(): Promise<ApiKeyView[]> {
    return (await this.repo.find({ order: { createdAt: "ASC" } })).map(view);
  }

  async revoke(id: string): Promise<boolean> {
    this.cache.delete(id);
    const res = await this.repo.update({ id, revokedAt: 0 }, { revokedAt: this.now() });
    return (res.affected ?? 0) > 0;
  }

  private touch(id: string, now: number): void {
    // At most one write a minute per key: last-used is a hint, not an access log.
    if (now - (this.lastUsedWritten.get(id) ?? 0) < 60_000) return;
    this.lastUsedWritten.set(id, now);
    void this.repo.update({ id }, { lastUsedAt: now }).catch(() => undefined);
  }
}

function view(r: ApiKeyEntity): ApiKeyView {
  return { id: r.id, name: r.name, role: r.role as Role, createdAt: new Date(r.createdAt).toISOString(), createdBy: r.createdBy, lastUsedAt: r.lastUsedAt ? new Date(r.lastUsedAt).toISOString() : null, revoked: r.revokedAt > 0 };
}
