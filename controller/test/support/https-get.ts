import { isIP } from "node:net";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { checkServerIdentity } from "node:tls";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * GET over node:http(s), for what fetch() cannot do: trust a given CA (the controller's own),
 * send a custom Host or X-Forwarded-* header.
 */
export function rawGet(url: string, opts: { ca?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const u = new URL(url);
  const req = u.protocol === "https:" ? httpsRequest : httpRequest;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return new Promise((ok, fail) => {
    req(
      {
        host,
        port: u.port,
        path: u.pathname + u.search,
        headers: opts.headers,
        ca: opts.ca,
        // The certificate is checked against the URL's host, not a (hostile) Host header.
        servername: isIP(host) ? "" : host,
        checkServerIdentity: (_h: string, cert: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(host, cert),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", fail);
      },
    )
      .on("error", fail)
      .end();
  });
}
