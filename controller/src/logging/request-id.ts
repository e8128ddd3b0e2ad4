import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { principalOf } from "../http/roles";

export const REQUEST_ID_HEADER = "X-Request-Id";

/** The request a log line belongs to; read by the logger's mixin, so every line carries the id. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

export function currentRequestFields(): { requestId?: string } {
  const store = requestContext.getStore();
  return store ? { requestId: store.requestId } : {};
}

/** A caller's id is kept when it is a sane token (a proxy's or a client's correlation id); anything else is replaced. */
const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Probes and scrapes would drown the log at info. */
const QUIET = new Set(["/api/v1/healthz", "/metrics"]);

/**
 * Express middleware: honours or generates X-Request-Id, echoes it in the response, runs the rest
 * of the request inside its context, and logs one line when the response is finished.
 */
export function requestIdMiddleware(logger: Logger) {
  return (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void): void => {
    const given = req.headers["x-request-id"];
    const requestId = typeof given === "string" && ACCEPTABLE.test(given) ? given : randomUUID();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      // The path only: query strings can carry filters with personal data, and are in the request id's other lines if needed.
      const path = (req.originalUrl ?? req.url ?? "").split("?")[0];
      const fields = {
        requestId,
        method: req.method,
        path,
        status: res.statusCode,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        keyId: principalOf(req)?.keyId,
      };
      const level = res.statusCode >= 500 ? "error" : QUIET.has(path) ? "debug" : "info";
      logger[level](fields, "http request");
    });
    requestContext.run({ requestId }, next);
  };
}
