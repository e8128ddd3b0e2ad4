import type { EnrollmentTokenEntity } from "../database/entities";
import type { EnrollmentTokenRepository } from "../database/repositories/enrollment-token-repository";
import { equalHex, mintSecret, parseSecret, sha256Hex } from "./secret-token";

export const TOKEN_PREFIX = "vet";
const TAG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export interface TokenSpec {
  ttlMs: number;
  uses: number;
  tags: string[];
  createdBy: string;
}

export interface TokenView {
  id: string;
  tags: string[];
  usesLeft: number;
  usesTotal: number;
  expiresAt: string;
  createdAt: string;
  createdBy: string;
}

export class TokenRejected extends Error {
  constructor(
    message: string,
    readonly tokenId?: string,
  ) {
    super(message);
  }
}

export function validateTokenSpec(s: { ttlMs: number; uses: number; tags: string[] }): void {
  if (!Number.isInteger(s.ttlMs) || s.ttlMs < 60_000 || s.ttlMs > 365 * 86_400_000) throw new RangeError("ttl must be between 1m and 365d");
  if (!Number.isInteger(s.uses) || s.uses < 1 || s.uses > 100_000) throw new RangeError("uses must be an integer between 1 and 100000");
  if (s.tags.length > 32) throw new RangeError("at most 32 tags");
  for (const t of s.tags) if (!TAG.test(t)) throw new RangeError(`tag "${t.slice(0, 70)}" is not valid (1-64 of [A-Za-z0-9._:-])`);
}

/**
 * Enrollment tokens: only a hash is stored, with an expiry and a use count.
 * Consuming a use is one conditional UPDATE, so concurrent enrollments with
 * the last use cannot both succeed.
 */
export class EnrollmentTokens {
  constructor(
    private readonly repo: EnrollmentTokenRepository,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns the token text, which exists nowhere else after this call. */
  async create(spec: TokenSpec): Promise<{ token: string; view: TokenView }> {
    validateTokenSpec(spec);
    const { id, secret, token } = mintSecret(TOKEN_PREFIX);
    const now = this.now();
    const row: EnrollmentTokenEntity = {
      id,
      hash: sha256Hex(secret),
      tags: spec.tags,
      usesLeft: spec.uses,
      usesTotal: spec.uses,
      expiresAt: now + spec.ttlMs,
      createdAt: now,
      createdBy: spec.createdBy.slice(0, 160),
    };
    await this.repo.create(row);
    return { token, view: view(row) };
  }

  /** Validates and uses the token once; returns its id and tags. */
  async consume(token: string): Promise<{ tokenId: string; tags: string[] }> {
    const parsed = parseSecret(TOKEN_PREFIX, token);
    if (!parsed) throw new TokenRejected("enrollment token is malformed");
    const row = await this.repo.byId(parsed.id);
    if (!row || !equalHex(row.hash, sha256Hex(parsed.secret))) throw new TokenRejected("enrollment token is not known", row ? parsed.id : undefined);
    const now = this.now();
    if (row.expiresAt <= now) throw new TokenRejected(`enrollment token expired at ${new Date(row.expiresAt).toISOString()}`, row.id);
    if (!(await this.repo.consume(row.id, now))) throw new TokenRejected("enrollment token has no uses left", row.id);
    return { tokenId: row.id, tags: row.tags };
  }

  async list(): Promise<TokenView[]> {
    return (await this.repo.list()).map(view);
  }
}

function view(r: EnrollmentTokenEntity): TokenView {
  return {
    id: r.id,
    tags: r.tags,
    usesLeft: r.usesLeft,
    usesTotal: r.usesTotal,
    expiresAt: new Date(r.expiresAt).toISOString(),
    createdAt: new Date(r.createdAt).toISOString(),
    createdBy: r.createdBy,
  };
}
