import { RequestMethod, type Type } from "@nestjs/common";
import { METHOD_METADATA, PATH_METADATA } from "@nestjs/common/constants";
import { PUBLIC_KEY } from "./roles";

/** One segment of a route pattern: fixed text, a `:param`, or a `*rest` wildcard. */
export type Segment = { literal: string } | { param: string } | { rest: string };

export interface RouteInfo {
  method: string;
  /** The pattern as declared, e.g. "/api/v1/rules/:id/disable". */
  path: string;
  segments: Segment[];
  /** Served without an API key (@Public). */
  isPublic: boolean;
  controller: Type;
  handler: string;
}

/** Methods that change state: every one of them is audited (audit-interceptor.ts). */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Every route of the given Nest controllers, read from the same decorator
 * metadata Nest routes by, so the path normaliser, the API key middleware and
 * the tests see exactly the routes Nest serves.
 */
export function routeTable(controllers: readonly Type[]): RouteInfo[] {
  const out: RouteInfo[] = [];
  for (const controller of controllers) {
    const bases = asList(Reflect.getMetadata(PATH_METADATA, controller));
    const classPublic = Reflect.getMetadata(PUBLIC_KEY, controller) === true;
    const proto = controller.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = proto[name];
      if (name === "constructor" || typeof fn !== "function") continue;
      const method = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
      const paths = Reflect.getMetadata(PATH_METADATA, fn) as string | string[] | undefined;
      if (method === undefined || paths === undefined) continue;
      const isPublic = classPublic || Reflect.getMetadata(PUBLIC_KEY, fn) === true;
      for (const base of bases) {
        for (const sub of asList(paths)) {
          const path =
            "/" +
            [base, sub]
              .map((p) => p.replace(/^\/+|\/+$/g, ""))
              .filter(Boolean)
              .join("/");
          out.push({ method: RequestMethod[method], path, segments: parsePattern(path), isPublic, controller, handler: name });
        }
      }
    }
  }
  return out;
}

function asList(v: unknown): string[] {
  if (v === undefined || v === null) return ["/"];
  return Array.isArray(v) ? (v as string[]) : [String(v)];
}

function parsePattern(path: string): Segment[] {
  return path
    .split("/")
    .filter(Boolean)
    .map((s) => (s.startsWith(":") ? { param: s.slice(1) } : s.startsWith("*") ? { rest: s.slice(1) } : { literal: s.toLowerCase() }));
}

/**
 * The route a path (already split into decoded segments) reaches, fixed
 * segments compared without case. Among several, the one with the most fixed
 * segments wins (`/rules/stats` over `/rules/:id`), as Nest declares them.
 */
export function matchRoute(routes: readonly RouteInfo[], method: string | undefined, segments: readonly string[]): RouteInfo | undefined {
  let best: RouteInfo | undefined;
  let bestScore = -1;
  for (const r of routes) {
    if (method !== undefined && r.method !== method && r.method !== "ALL" && !(method === "HEAD" && r.method === "GET")) continue;
    const score = matchScore(r.segments, segments);
    if (score > bestScore) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

function matchScore(pattern: readonly Segment[], segments: readonly string[]): number {
  let literals = 0;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if ("rest" in p) return segments.length > i ? literals : -1;
    const s = segments[i];
    if (s === undefined) return -1;
    if ("literal" in p) {
      if (p.literal !== s.toLowerCase()) return -1;
      literals++;
    }
  }
  return segments.length === pattern.length ? literals : -1;
}
