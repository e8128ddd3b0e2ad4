import type { CallHandler, ExecutionContext, NestInterceptor } from "@nestjs/common";
import { tap, type Observable } from "rxjs";
import { actorOf } from "../auth/roles";
import type { AuditLog } from "./audit-log";

/** Routes whose services write their own, richer audit records. */
const AUDITED_ELSEWHERE = [/^\/api\/v1\/apikeys/, /^\/api\/v1\/enrollment-tokens/, /^\/api\/v1\/agents\/[^/]+\/(revoke|commands|isolate|release)$/, /^\/api\/v1\/commands\//, /^\/api\/v1\/playbooks/, /^\/api\/v1\/playbook-actions\//, /^\/api\/v1\/agent-policy/, /^\/api\/v1\/webhooks/];

/** Body fields worth keeping; anything else (secrets, rule text, bulk IOC lists) stays out of the trail. */
const SAFE_FIELDS = ["verdict", "state", "enabled", "note", "reason", "ruleId", "createSuppression", "name", "type", "format", "minScore", "url"];

/**
 * Every successful change made through the API leaves an audit record (who,
 * what, on which object), so rule, suppression, IOC, webhook and alert-verdict
 * changes are in the hash chain without each controller remembering to do it.
 */
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly audit: AuditLog) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<{ method: string; path?: string; url: string; params?: Record<string, string>; body?: unknown }>();
    const path = (req.path ?? req.url.split("?")[0]) as string;
    if (req.method === "GET" || req.method === "HEAD" || !path.startsWith("/api/v1/") || AUDITED_ELSEWHERE.some((r) => r.test(path))) return next.handle();
    return next.handle().pipe(
      tap(() => {
        const resource = path.replace(/^\/api\/v1\//, "").split("/")[0];
        const verb = req.method === "DELETE" ? "deleted" : req.method === "POST" ? (path.split("/").length > 4 ? path.split("/").at(-1) : "created") : "updated";
        const body = req.body && typeof req.body === "object" && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
        const kept = Object.fromEntries(SAFE_FIELDS.filter((k) => body[k] !== undefined).map((k) => [k, typeof body[k] === "string" ? (body[k] as string).slice(0, 500) : body[k]]));
        void this.audit
          .append({ actor: actorOf(req), action: `${resource}.${verb}`, target: path.slice("/api/v1/".length, 300), details: { method: req.method, params: req.params ?? {}, ...kept } })
          .catch(() => undefined);
      }),
    );
  }
}
