import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpResult {
  status: number;
  text: string;
  json: any;
  ms: number;
  /** Set when no response came back (connection reset by an early refusal, timeout). */
  error?: string;
}

export interface CallOptions {
  key?: string;
  body?: string | Buffer;
  type?: string;
  headers?: Record<string, string>;
  /** Source address on loopback (127.0.0.2, 127.0.0.3...): plays a different client. */
  local?: string;
  timeoutMs?: number;
}

/**
 * One raw HTTP(S) request: the path goes out byte for byte (mixed case, `//`,
 * percent-encoding), which fetch() would normalise. The bench trusts whatever
 * certificate its own loopback controller presents (rejectUnauthorized off):
 * it is the client of the controller it started, not the attacker of the TLS.
 */
export function call(base: string, method: string, path: string, o: CallOptions = {}): Promise<HttpResult> {
  const u = new URL(base);
  const req = u.protocol === "https:" ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { ...(o.type ? { "content-type": o.type } : {}), ...(o.key ? { authorization: `Bearer ${o.key}` } : {}), ...o.headers };
  if (o.body !== undefined) headers["content-length"] = String(Buffer.byteLength(o.body));
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<HttpResult, "ms">) => {
      if (settled) return;
      settled = true;
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const r = req({ host: u.hostname, port: u.port, method, path, headers, localAddress: o.local, rejectUnauthorized: false, agent: false, timeout: o.timeoutMs ?? 120_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        done({ status: res.statusCode ?? 0, text, json });
      });
      res.on("error", (e) => done({ status: res.statusCode ?? 0, text: "", json: undefined, error: e.message }));
    });
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", (e) => done({ status: 0, text: "", json: undefined, error: e.message }));
    if (o.body !== undefined) r.end(o.body);
    else r.end();
  });
}

export function json(body: unknown): { body: string; type: string } {
  return { body: JSON.stringify(body), type: "application/json" };
}
