import { ForbiddenException, HttpException, HttpStatus, UnauthorizedException, type CanActivate, type ExecutionContext } from "@nestjs/common";
import type { Reflector } from "@nestjs/core";
import type { ApiKeys } from "./api-keys";
import type { RateLimiter } from "./rate-limiter";
import { PRINCIPAL, PUBLIC_KEY, ROLES_KEY, type Role } from "./roles";

interface Req {
  method: string;
  url: string;
  ip?: string;
  route?: { path?: string };
  headers: Record<string, string | string[] | undefined>;
}
interface Res {
  setHeader(name: string, value: string): void;
}

/** Routes that stay open: load balancers probe health without credentials. */
const PUBLIC_ROUTES = new Set(["GET /api/v1/healthz"]);
const READ_METHODS = new Set(["GET", "HEAD"]);

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Global guard: every route needs an API key (Authorization: Bearer, or
 * X-Api-Key) with a role the route allows; 401 without a valid key, 403 for
 * the wrong role, 429 past the key's rate. Failed attempts are rate limited
 * per client address too, so guessing keys (each a scrypt) stays cheap to refuse.
 */
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeys,
    private readonly perKey: RateLimiter,
    private readonly failures: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== "http") return true;
    const req = ctx.switchToHttp().getRequest<Req>();
    const res = ctx.switchToHttp().getResponse<Res>();
    const targets = [ctx.getHandler(), ctx.getClass()];
    const method = req.method.toUpperCase();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    if (PUBLIC_ROUTES.has(`${method} ${(req.url ?? "").split("?")[0].replace(/\/+$/, "")}`)) return true;

    const auth = header(req, "authorization");
    const key = auth && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "").trim() : header(req, "x-api-key")?.trim();
    const client = req.ip ?? "unknown";
    if (!key) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="vigil"');
      throw new UnauthorizedException("an API key is required: send Authorization: Bearer <key> or X-Api-Key: <key>");
    }
    const principal = await this.keys.verify(key);
    if (!principal) {
      const wait = this.failures.take(client);
      if (wait) this.tooMany(res, wait, "too many failed API key attempts from this address");
      res.setHeader("WWW-Authenticate", 'Bearer realm="vigil", error="invalid_token"');
      throw new UnauthorizedException("the API key is not valid (unknown, revoked or malformed)");
    }
    const wait = this.perKey.take(principal.keyId);
    if (wait) this.tooMany(res, wait, "rate limit exceeded for this API key");

    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets) ?? (READ_METHODS.has(method) ? ["analyst", "integration", "readonly"] : []);
    const ok = principal.role === "admin" || (allowed.includes(principal.role) && (principal.role !== "readonly" || READ_METHODS.has(method)));
    if (!ok) throw new ForbiddenException(`role "${principal.role}" may not ${method} ${req.route?.path ?? req.url.split("?")[0]}; allowed: admin${allowed.filter((r) => r !== "admin").map((r) => ", " + r).join("")}`);
    (req as unknown as Record<symbol, unknown>)[PRINCIPAL] = principal;
    return true;
  }

  private tooMany(res: Res, seconds: number, message: string): never {
    res.setHeader("Retry-After", String(seconds));
    throw new HttpException({ statusCode: 429, message, retryAfterSeconds: seconds }, HttpStatus.TOO_MANY_REQUESTS);
  }
}
