import type { IncomingMessage, ServerResponse } from "node:http";
import { hasBody, header, refuse } from "../auth/api-key.middleware";
import { matchRoute, type RouteInfo } from "../http/route-table";
import { contentType } from "./text-body";

export interface BodyLimit {
  /** Largest JSON body in bytes. */
  bytes: number;
  /** Deepest nesting of arrays and objects. */
  depth: number;
}

/** Every JSON body unless its route says otherwise: API objects are small and shallow. */
export const DEFAULT_JSON_LIMIT: BodyLimit = { bytes: 1024 * 1024, depth: 32 };

/**
 * Routes whose JSON bodies are uploads, by "METHOD /pattern". Text uploads
 * (Sigma YAML, CSV, STIX as application/stix+json) are not parsed here: their
 * handlers stream them with their own caps (text-body.ts).
 */
export const JSON_ROUTE_LIMITS: Readonly<Record<string, BodyLimit>> = {
  // Sigma YAML wrapped in JSON {yaml, name}: the 1 MiB rule limit plus escaping.
  "POST /api/v1/rules": { bytes: 2 * 1024 * 1024, depth: 4 },
  // IOC lists and STIX bundles (STIX nests patterns and extensions a little deeper).
  "POST /api/v1/iocs": { bytes: 20 * 1024 * 1024, depth: 16 },
  "POST /api/v1/iocs/import": { bytes: 20 * 1024 * 1024, depth: 64 },
  // The agent policy carries rule YAML; it must fit the agent transport (4 MiB) anyway.
  "PUT /api/v1/agent-policy": { bytes: 4 * 1024 * 1024, depth: 16 },
};

/** Routes whose handlers stream a non-JSON body themselves (text-body.ts), with their own caps. */
export const TEXT_UPLOAD_ROUTES: ReadonlySet<string> = new Set(["POST /api/v1/rules", "POST /api/v1/iocs/import"]);

/**
 * Routes whose handlers read even an application/json body themselves (parsed in
 * slices, with their own cap): this middleware leaves the stream to them. Still
 * behind the API key check. IOC imports: a 20 MB STIX bundle is parsed object by
 * object (iocs.controller.ts), never in one JSON.parse.
 */
export const OWN_JSON_ROUTES: ReadonlySet<string> = new Set<string>(["POST /api/v1/iocs/import"]);

export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** Nesting depth of JSON text in one linear pass (strings skipped), stopping early past `max`. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** Reads at most `limit.bytes` of the body and parses it; BodyError (413/400) otherwise. */
export function readJson(req: IncomingMessage, limit: BodyLimit): Promise<unknown> {
  const declared = Number(header(req, "content-length") ?? NaN);
  if (declared > limit.bytes) return Promise.reject(new BodyError(413, `request body is larger than ${limit.bytes} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit.bytes) return void chunks.push(c);
      req.off("data", onData);
      reject(new BodyError(413, `request body is larger than ${limit.bytes} bytes`));
    };
    req.on("data", onData);
    req.once("end", () => {
      if (size > limit.bytes) return;
      const text = Buffer.concat(chunks).toString("utf8");
      if (jsonDepthExceeds(text, limit.depth)) return reject(new BodyError(400, `request body nests deeper than ${limit.depth} levels`));
      try {
        resolve(text.trim() === "" ? undefined : JSON.parse(text));
      } catch (e) {
        reject(new BodyError(400, `request body is not valid JSON: ${(e as Error).message.slice(0, 200)}`));
      }
    });
    req.once("error", (e) => reject(new BodyError(400, `reading the request body failed: ${String(e)}`)));
  });
}

/**
 * Express middleware, after the API key check: parses application/json bodies
 * with the route's size and depth limit (1 MiB and 32 levels unless
 * JSON_ROUTE_LIMITS says otherwise). Other content types are left on the
 * stream for the handlers that read them.
 */
export function jsonBodyParser(routes: () => readonly RouteInfo[], limits: Readonly<Record<string, BodyLimit>> = JSON_ROUTE_LIMITS) {
  return (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: (err?: unknown) => void): void => {
    if (!hasBody(req)) return next();
    const route = matchRoute(routes(), req.method?.toUpperCase(), (req.url ?? "/").split("?")[0]!.split("/").filter(Boolean));
    const key = route ? `${route.method} ${route.path}` : "";
    const limit = limits[key] ?? DEFAULT_JSON_LIMIT;
    if (OWN_JSON_ROUTES.has(key)) return next();
    if (contentType(req) !== "application/json") {
      // A body no handler reads would still be read off the socket to be discarded: refuse a large one up front.
      if (!TEXT_UPLOAD_ROUTES.has(key) && Number(header(req, "content-length") ?? 0) > limit.bytes) return refuse(req, res, 413, `request body is larger than ${limit.bytes} bytes`);
      return next();
    }
    readJson(req, limit).then(
      (body) => {
        req.body = body;
        next();
      },
      (err: unknown) => {
        if (err instanceof BodyError) return refuse(req, res, err.status, err.message);
        next(err);
      },
    );
  };
}
