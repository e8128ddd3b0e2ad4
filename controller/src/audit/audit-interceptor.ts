import type { CallHandler, ExecutionContext, NestInterceptor } from "@nestjs/common";
import { concatMap, type Observable } from "rxjs";
import { READ_ONLY_METHODS } from "../http/route-table";
import { actorOf } from "../http/roles";
import type { AuditLog } from "./audit-log";
import { requestAudit } from "./request-audit";

/** Body fields worth keeping; anything else (secrets, rule text, bulk IOC lists) stays out of the trail. */
const SAFE_FIELDS = ["verdict", "state", "enabled", "note", "reason", "ruleId", "createSuppression", "name", "type", "format", "minScore", "url", "id"];
/** Response fields never copied into the trail, whatever a handler returns. */
const SECRET_FIELD = /key|secret|token|password|hash/i;

interface Req {
  method: string;
  url: string;
  route?: { path?: string };
  params?: Record<string, string>;
  query?: Record<string, unknown>;
  body?: unknown;
}

/**
 * Every successful state change made through the API leaves exactly one audit
 * record: by default this one (who, which route, on which object, what the
 * handler noted and what the response names), unless the service behind the
 * route already wrote its own, richer record during the request. Audit is
 * decided by the HTTP method and the route Nest dispatched to, never by the
 * URL's spelling, so no route, existing or new, can be reached unaudited.
 */
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly audit: AuditLog) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== "http") return next.handle();
    const req = ctx.switchToHttp().getRequest<Req>();
    if (READ_ONLY_METHODS.has(req.method.toUpperCase())) return next.handle();
    const store = requestAudit.getStore();
    const before = store?.appended ?? 0;
    // The response waits for the record: a change is not acknowledged before it is in the trail.
    return next.handle().pipe(
      concatMap(async (result: unknown) => {
        if (store && store.appended > before) return result;
        const pattern = req.route?.path ?? req.url.split("?")[0]!;
        await this.audit.append(requestRecord(req, ctx.getClass().name, ctx.getHandler().name, pattern, result, store?.notes ?? {}));
        return result;
      }),
    );
  }
}

function requestRecord(req: Req, controller: string, handler: string, pattern: string, result: unknown, notes: Record<string, unknown>) {
  const fixed = pattern
    .replace(/^\/api\/v1\//, "")
    .split("/")
    .filter((s) => s && !s.startsWith(":") && !s.startsWith("*"));
  const resource = fixed[0] ?? controller.replace(/Controller$/, "").toLowerCase();
  const verb = req.method === "DELETE" ? "deleted" : req.method === "POST" ? (fixed.length > 1 ? fixed.at(-1)! : "created") : "updated";
  const body = req.body && typeof req.body === "object" && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
  const kept = Object.fromEntries(SAFE_FIELDS.filter((k) => body[k] !== undefined).map((k) => [k, clip(body[k])]));
  return {
    actor: actorOf(req),
    action: `${resource}.${verb}`,
    target: req.url
      .split("?")[0]!
      .replace(/^\/api\/v1\//, "")
      .slice(0, 255),
    details: { method: req.method, route: pattern, handler: `${controller}.${handler}`, params: req.params ?? {}, query: scalars(req.query), ...kept, result: summarise(result), ...notes },
  };
}

/** What a response names: its scalar fields (ids, counts) and the ids of listed objects. */
function summarise(result: unknown): Record<string, unknown> | undefined {
  if (!result || typeof result !== "object" || Array.isArray(result)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(result as Record<string, unknown>)) {
    if (SECRET_FIELD.test(k)) continue;
    if (v === null || typeof v === "number" || typeof v === "boolean" || typeof v === "string") out[k] = clip(v);
    else if (Array.isArray(v)) {
      const ids = v.map((x) => (x && typeof x === "object" ? (x as { id?: unknown }).id : undefined)).filter((x) => typeof x === "string" || typeof x === "number");
      out[k] = ids.length ? ids.slice(0, 200) : v.length;
    }
  }
  return out;
}

function scalars(q: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(q ?? {})
      .filter(([k, v]) => typeof v === "string" && !SECRET_FIELD.test(k))
      .map(([k, v]) => [k.slice(0, 64), clip(v)]),
  );
}

function clip(v: unknown): unknown {
  return typeof v === "string" ? v.slice(0, 500) : v;
}
