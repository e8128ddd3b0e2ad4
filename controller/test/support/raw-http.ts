import { request as httpRequest } from "node:http";

/**
 * An HTTP request with the path sent exactly as given: fetch() resolves `.`
 * and `..` and would hide the spellings an attacker sends.
 */
export function rawRequest(baseUrl: string, method: string, path: string, opts: { key?: string; body?: string | Buffer; contentType?: string } = {}): Promise<{ status: number; body: any }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    if (opts.body !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/json";
      headers["content-length"] = Buffer.byteLength(opts.body);
    }
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}
