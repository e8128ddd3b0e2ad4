import type { IncomingMessage, ServerResponse } from "node:http";
import { matchRoute, type RouteInfo } from "../http/route-table";

export type NormalisedPath = { ok: true; path: string; segments: string[]; route?: RouteInfo } | { ok: false; reason: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * One spelling per route, decided once before routing, auth and audit see the
 * URL: %-encoded unreserved characters decoded (other escapes kept, hex upper
 * case), `//` collapsed, fixed segments of the route it reaches in their
 * declared (lower) case, parameters untouched. Spellings that could mean two
 * things are refused: `.`/`..` segments, encoded `/` or `\`, bad escapes.
 */
export function normalisePath(rawPath: string, routes: readonly RouteInfo[], method?: string): NormalisedPath {
  if (!rawPath.startsWith("/")) return { ok: false, reason: "the request path must start with /" };
  if (rawPath.includes("\\")) return { ok: false, reason: "the request path must not contain a backslash" };
  const trailing = rawPath.length > 1 && rawPath.endsWith("/");
  const segments: string[] = [];
  for (const raw of rawPath.split("/")) {
    if (raw === "") continue;
    const seg = decodeUnreserved(raw);
    if (seg === undefined) return { ok: false, reason: "the request path has a malformed or ambiguous %-escape (encoded / and \\ are refused)" };
    if (seg === "." || seg === "..") return { ok: false, reason: "the request path must not contain . or .. segments" };
    segments.push(seg);
  }
  const route = matchRoute(routes, method, segments) ?? (method === undefined ? undefined : matchRoute(routes, undefined, segments));
  if (route) {
    route.segments.forEach((p, i) => {
      if ("literal" in p) segments[i] = p.literal;
    });
  }
  const path = "/" + segments.join("/") + (trailing && segments.length ? "/" : "");
  return { ok: true, path, segments, route };
}

function decodeUnreserved(seg: string): string | undefined {
  let out = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c !== "%") {
      out += c;
      continue;
    }
    const hex = seg.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    const ch = String.fromCharCode(parseInt(hex, 16));
    if (ch === "/" || ch === "\\") return undefined;
    out += UNRESERVED.test(ch) ? ch : "%" + hex.toUpperCase();
    i += 2;
  }
  return out;
}

/**
 * Express middleware: rewrites req.url to the normalised path (query kept) so
 * routing, the API key check and the audit trail all see the same route; 400
 * for ambiguous spellings.
 */
export function pathNormaliser(routes: () => readonly RouteInfo[]) {
  return (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const raw = q < 0 ? url : url.slice(0, q);
    const n = normalisePath(raw, routes(), req.method);
    if (!n.ok) {
      res.statusCode = 400;
      res.setHeader("content-type", "application/json; charset=utf-8");
      res.setHeader("connection", "close");
      res.end(JSON.stringify({ statusCode: 400, error: "Bad Request", message: n.reason }));
      return;
    }
    if (n.path !== raw) req.url = n.path + (q < 0 ? "" : url.slice(q));
    next();
  };
}
