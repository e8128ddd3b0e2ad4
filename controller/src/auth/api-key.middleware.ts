import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { matchRoute, READ_ONLY_METHODS, type RouteInfo } from "../http/route-table";
import type { KeyCheck } from "./key-check";
import { PRINCIPAL } from "../http/roles";

/** Routes that stay open besides @Public ones: load balancers probe health without credentials. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(["GET /api/v1/healthz"]);

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function presentedKey(req: IncomingMessage): string | undefined {
  const auth = header(req, "authorization");
  return auth && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "").trim() : header(req, "x-api-key")?.trim();
}

export function hasBody(req: IncomingMessage): boolean {
  const len = header(req, "content-length");
  return (len !== undefined && len !== "0") || header(req, "transfer-encoding") !== undefined;
}

/**
 * Answers without reading the request body: the response says so
 * (Connection: close) and the socket is shut once it is written, so an
 * unauthenticated 10 MB upload costs a few kilobytes of reading, not 10 MB.
 */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): void {
  const body = JSON.stringify({ statusCode: status, message, ...extra });
  const unread = hasBody(req);
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("content-length", Buffer.byteLength(body));
  if (unread) {
    res.setHeader("connection", "close");
    // Stop pulling the body off the socket; Node would otherwise read and discard all of it.
    req.pause();
    req.socket.pause();
    res.once("finish", () => {
      req.socket.end();
      // A client still pushing the body gets the response first, then the connection goes.
      setTimeout(() => req.socket.destroy(), 2000).unref();
    });
  }
  res.end(body);
}

/**
 * Node answers `Expect: 100-continue` by itself, inviting the body before any
 * middleware runs; with this the invitation waits for the key check
 * (`invite` below), and a refused client never sends its body.
 */
export function deferContinue(server: Pick<Server, "on" | "emit">): void {
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => server.emit("request", req, res));
}

function invite(req: IncomingMessage, res: ServerResponse): void {
  if (/^100-continue$/i.test(header(req, "expect") ?? "") && !res.headersSent) res.writeContinue();
}

/**
 * Express middleware that authenticates every request before anything reads
 * its body: public routes (and bodiless reads of paths outside the route table,
 * such as the OpenAPI document) pass; everything else needs a valid API key,
 * else 401/429/503 without the body being read. The guard then checks the role.
 */
export function apiKeyMiddleware(check: KeyCheck, routes: () => readonly RouteInfo[]) {
  return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    const method = (req.method ?? "GET").toUpperCase();
    const path = (req.url ?? "/").split("?")[0]!;
    const segments = path.split("/").filter(Boolean);
    const route = matchRoute(routes(), method, segments);
    const open = route ? route.isPublic || PUBLIC_ROUTES.has(`${route.method} ${route.path}`) : READ_ONLY_METHODS.has(method);
    // Public reads take no body (a body there could only be a way to make the server read before auth).
    if (open && !hasBody(req)) return next();
    if (open && READ_ONLY_METHODS.has(method)) return refuse(req, res, 413, "this route takes no request body");
    if (open) return (invite(req, res), next());
    check.check(presentedKey(req), req.socket.remoteAddress ?? "unknown").then((r) => {
      if (r.ok) {
        (req as unknown as Record<symbol, unknown>)[PRINCIPAL] = r.principal;
        invite(req, res);
        return next();
      }
      const headers: Record<string, string> = {};
      if (r.status === 401) headers["www-authenticate"] = presentedKey(req) ? 'Bearer realm="vigil", error="invalid_token"' : 'Bearer realm="vigil"';
      if (r.retryAfter) headers["retry-after"] = String(r.retryAfter);
      refuse(req, res, r.status, r.message, headers, r.retryAfter ? { retryAfterSeconds: r.retryAfter } : {});
    }, next);
  };
}
