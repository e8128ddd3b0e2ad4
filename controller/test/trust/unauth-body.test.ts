import type { Server } from "node:http";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { rawRequest } from "../support/raw-http";
import { waitFor } from "../support/wait";

/**
 * Issue #10 class 5: the 20 MB JSON parser ran before the key check, so four
 * parallel 10 MB nested bodies without a key grew the controller by 600 MB.
 * Now the key is checked before anything reads the body: the assertion is on
 * the bytes the server read from each connection, not on a timing.
 */
const TEN_MB = 10 * 1024 * 1024;

/** Sends headers and then up to `bytes` of nested JSON as fast as the server takes it; resolves with the status line. */
function flood(
  url: string,
  path: string,
  bytes: number,
  opts: { key?: string; chunked?: boolean; contentType?: string; expectContinue?: boolean; ca?: string } = {},
): Promise<{ status: number; sent: number; first: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = opts.ca ? tlsConnect({ port: Number(u.port), host: u.hostname, ca: opts.ca, checkServerIdentity: () => undefined }) : connect(Number(u.port), u.hostname);
    let sent = 0;
    let status = 0;
    let first = "";
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ status, sent, first });
    };
    sock.on("data", (d: Buffer) => {
      const text = d.toString("latin1");
      first ||= text.split("\r\n")[0]!;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) status = Number(m[1]);
      // Invited to send the body: send it (and wait for the final answer).
      if (status === 100 && opts.expectContinue) return void pump();
      finish();
    });
    sock.on("error", () => finish());
    sock.on("close", () => finish());
    sock.on(opts.ca ? "secureConnect" : "connect", () => {
      const len = opts.chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${bytes}`;
      sock.write(
        `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${opts.contentType ?? "application/json"}\r\n${opts.key ? `Authorization: Bearer ${opts.key}\r\n` : ""}${opts.expectContinue ? "Expect: 100-continue\r\n" : ""}${len}\r\n\r\n`,
      );
      if (!opts.expectContinue) pump();
    });
    const chunk = Buffer.alloc(64 * 1024, "[");
    function pump(): void {
      while (!done && sent < bytes) {
        const body = opts.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk;
        sent += chunk.length;
        if (!sock.write(body)) return void sock.once("drain", pump);
      }
    }
  });
}

describe("requests cost nothing before they are authenticated", () => {
  let ctl: TestController;
  const sockets: Socket[] = [];
  const bytesReadBy = async (from: number) => {
    const mine = sockets.slice(from);
    await waitFor("server sockets closed", () => mine.every((s) => s.destroyed), 10_000, 20);
    return mine.map((s) => s.bytesRead);
  };

  beforeAll(async () => {
    ctl = await startTestController();
    (ctl.app.getHttpServer() as Server).on("connection", (s: Socket) => sockets.push(s));
  });
  afterAll(async () => ctl?.dispose());

  it("four parallel 10 MB nested bodies without a key: 401 each, and the server reads almost none of them", async () => {
    const from = sockets.length;
    const heapBefore = process.memoryUsage().heapUsed;
    const paths = ["/api/v1/rules", "/API/V1/IOCS", "/api/v1/iocs/import", "/api/v1/suppressions"];
    const results = await Promise.all(paths.map((p) => flood(ctl.httpUrl, p, TEN_MB)));
    expect(results.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    // Healthz still answers while (and after) the floods are refused.
    expect((await ctl.get("/api/v1/healthz", null)).status).toBe(200);
    const read = await bytesReadBy(from);
    console.log(`bytes read by the server per refused 10 MB request: ${read.slice(0, 4).join(", ")}`);
    for (const n of read.slice(0, 4)) expect(n).toBeLessThan(512 * 1024);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it("the same with a chunked body, with a wrong key, and on an unknown path", async () => {
    const from = sockets.length;
    const results = await Promise.all([
      flood(ctl.httpUrl, "/api/v1/rules", TEN_MB, { chunked: true }),
      flood(ctl.httpUrl, "/api/v1/rules", TEN_MB, { key: `vk_${"a".repeat(16)}_${"b".repeat(43)}` }),
      flood(ctl.httpUrl, "/no/such/route", TEN_MB),
      flood(ctl.httpUrl, "/api/v1/HEALTHZ", TEN_MB),
    ]);
    // POST to healthz is no public route: it needs a key like any other.
    expect(results.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    for (const n of await bytesReadBy(from)) expect(n).toBeLessThan(512 * 1024);
    // A client that asks first (Expect: 100-continue) is refused before it sends a byte of the body...
    const asked = await flood(ctl.httpUrl, "/api/v1/rules", TEN_MB, { expectContinue: true });
    expect(asked).toMatchObject({ status: 401, sent: 0 });
    // ...and invited once its key is good.
    const invited = await flood(ctl.httpUrl, "/api/v1/suppressions", 64 * 1024, { key: ctl.adminKey, expectContinue: true });
    expect(invited.first).toBe("HTTP/1.1 100 Continue");
    expect(invited.status).toBe(400);
    // A public route takes no body at all.
    const pub = await rawRequest(ctl.httpUrl, "GET", "/api/v1/healthz", { body: "x".repeat(1000) });
    expect(pub.status).toBe(413);
  });

  it("with a valid key, JSON past the route's limit is 413 without reading it; too deep is 400; uploads keep their own limit", async () => {
    const from = sockets.length;
    const big = await flood(ctl.httpUrl, "/api/v1/suppressions", TEN_MB, { key: ctl.adminKey });
    expect(big.status).toBe(413);
    // A body no handler reads (not JSON, not an upload route) is refused up front too.
    const text = await flood(ctl.httpUrl, "/api/v1/suppressions", TEN_MB, { key: ctl.adminKey, contentType: "text/plain" });
    expect(text.status).toBe(413);
    for (const n of await bytesReadBy(from)) expect(n).toBeLessThan(512 * 1024);

    const deep = await rawRequest(ctl.httpUrl, "POST", "/api/v1/suppressions", { key: ctl.adminKey, body: "[".repeat(100) + "]".repeat(100) });
    expect(deep.status).toBe(400);
    expect(deep.body.message).toMatch(/nests deeper than 32/);
    const bad = await rawRequest(ctl.httpUrl, "POST", "/api/v1/suppressions", { key: ctl.adminKey, body: "{nope" });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/not valid JSON/);

    // 2 MiB of IOCs as JSON: over the default 1 MiB, within the IOC route's own limit.
    const iocs = Array.from({ length: 40_000 }, (_, i) => ({ type: "domain", value: `host${i}.bulk-example.org`, source: "bulk" }));
    const body = JSON.stringify(iocs);
    expect(body.length).toBeGreaterThan(1024 * 1024);
    const ok = await rawRequest(ctl.httpUrl, "POST", "/api/v1/iocs", { key: ctl.adminKey, body });
    expect(ok.status, JSON.stringify(ok.body).slice(0, 200)).toBeLessThan(300);
    expect((await rawRequest(ctl.httpUrl, "POST", "/api/v1/suppressions", { key: ctl.adminKey, body })).status).toBe(413);
  });

  it("over the HTTPS listener too: 401 without reading the body", async () => {
    const tls = await startTestController({ https: true });
    try {
      const raw: Socket[] = [];
      (tls.app.getHttpServer() as Server).on("connection", (s: Socket) => raw.push(s));
      const r = await flood(tls.httpUrl, "/API/V1/RULES", TEN_MB, { ca: tls.security.trust.ca.certPem });
      expect(r.status).toBe(401);
      await waitFor("server socket closed", () => raw.length > 0 && raw.every((s) => s.destroyed), 10_000, 20);
      console.log(`bytes read over TLS for a refused 10 MB request: ${raw.map((s) => s.bytesRead).join(", ")}`);
      for (const s of raw) expect(s.bytesRead).toBeLessThan(512 * 1024);
    } finally {
      await tls.dispose();
    }
  });
});
