import { ForbiddenException, HttpException, HttpStatus, UnauthorizedException, type CanActivate, type ExecutionContext } from "@nestjs/common";
import type { Reflector } from "@nestjs/core";
import { PUBLIC_ROUTES } from "./api-key.middleware";
import type { KeyCheck } from "./key-check";
import type { RateLimiter } from "./rate-limiter";
import { PRINCIPAL, PUBLIC_KEY, ROLES_KEY, type Principal, type Role } from "../http/roles";

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

const READ_METHODS = new Set(["GET", "HEAD"]);

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Global guard: every route needs an API key (Authorization: Bearer, or
 * X-Api-Key) with a role the route allows; 401 without a valid key, 403 for
 * the wrong role, 429 past the key's rate. The key itself is normally checked
 * earlier, before the body is read (api-key.middleware.ts); the guard checks it
 * only for a request that reached a route without that (defence in depth).
 */
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: KeyCheck,
    private readonly perKey: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== "http") return true;
    const req = ctx.switchToHttp().getRequest<Req>();
    const res = ctx.switchToHttp().getResponse<Res>();
    const targets = [ctx.getHandler(), ctx.getClass()];
    const method = req.method.toUpperCase();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    if (PUBLIC_ROUTES.has(`${method} ${(req.route?.path ?? (req.url ?? "").split("?")[0]!).replace(/\/+$/, "")}`)) return true;

    const principal = (req as unknown as Record<symbol, Principal | undefined>)[PRINCIPAL] ?? (await this.authenticate(req, res));
    const wait = this.perKey.take(principal.keyId);
    if (wait) this.tooMany(res, wait, "rate limit exceeded for this API key");

    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets) ?? (READ_METHODS.has(method) ? ["analyst", "integration", "readonly"] : []);
    const ok = principal.role === "admin" || (allowed.includes(principal.role) && (principal.role !== "readonly" || READ_METHODS.has(method)));
    if (!ok)
      throw new ForbiddenException(
        `role "${principal.role}" may not ${method} ${req.route?.path ?? req.url.split("?")[0]}; allowed: admin${allowed
          .filter((r) => r !== "admin")
          .map((r) => ", " + r)
          .join("")}`,
      );
    (req as unknown as Record<symbol, unknown>)[PRINCIPAL] = principal;
    return true;
  }

  private async authenticate(req: Req, res: Res): Promise<Principal> {
    const auth = header(req, "authorization");
    const key = auth && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "").trim() : header(req, "x-api-key")?.trim();
    const r = await this.keys.check(key, req.ip ?? "unknown");
    if (r.ok) return r.principal;
    if (r.status === 429) this.tooMany(res, r.retryAfter ?? 1, r.message);
    if (r.status === 503) throw new HttpException({ statusCode: 503, message: r.message }, HttpStatus.SERVICE_UNAVAILABLE);
    res.setHeader("WWW-Authenticate", key ? 'Bearer realm="vigil", error="invalid_token"' : 'Bearer realm="vigil"');
    throw new UnauthorizedException(r.message);
  }

  private tooMany(res: Res, seconds: number, message: string): never {
    res.setHeader("Retry-After", String(seconds));
    throw new HttpException({ statusCode: 429, message, retryAfterSeconds: seconds }, HttpStatus.TOO_MANY_REQUESTS);
  }
}
