import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startController } from "../../src/app/bootstrap";
import { loadConfig } from "../../src/config/config";
import { createLogger } from "../../src/logging/logger";
import { CertificateAuthority } from "../../src/trust/ca";
import { configuredHttpPin, httpTlsKeyPath, spkiPin } from "../../src/trust/http-tls";
import { createPrivateKey } from "node:crypto";
import { startTestController, type TestController } from "../support/controller";
import { rawGet } from "../support/https-get";
import { REPO, run, scratch } from "./install-support";

const CLI = join(REPO, "controller/bin/vigil-controller.js");

describe("the HTTP API over TLS", () => {
  let ctl: TestController;
  let caFile: string;

  beforeAll(async () => {
    ctl = await startTestController({ https: true });
    caFile = join(ctl.dir, "ca-copy.crt");
    writeFileSync(caFile, ctl.security.trust.ca.certPem);
  });
  afterAll(async () => ctl?.dispose());

  it("curl with the controller's CA (or its key pin) gets through; without them, or in plaintext, it does not", async () => {
    const url = `${ctl.httpUrl}/api/v1/healthz`;
    expect(url).toMatch(/^https:/);
    const ok = await run("curl", ["-fsS", "--cacert", caFile, url]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok|status/i);
    const pinned = await run("curl", ["-fsSk", "--pinnedpubkey", ctl.httpTls!.pin(), url]);
    expect(pinned.code, pinned.stderr).toBe(0);
    // No CA: the system store does not know the controller's CA.
    const noCa = await run("curl", ["-fsS", url]);
    expect(noCa.code).toBe(60);
    // A wrong pin is refused even with -k.
    const wrongPin = await run("curl", ["-fsSk", "--pinnedpubkey", `sha256//${Buffer.alloc(32, 7).toString("base64")}`, url]);
    expect(wrongPin.code).toBe(90);
    // Plain HTTP on the TLS port gets no API answer.
    const plain = await run("curl", ["-fsS", url.replace("https:", "http:")]);
    expect(plain.code).not.toBe(0);
    await expect(fetch(url)).rejects.toThrow();
    expect((await rawGet(url, { ca: ctl.security.trust.ca.certPem })).status).toBe(200);
  });

  it("the listener's key is kept (0600) so the pin survives restarts, and install-command prints a line that works", async () => {
    const keyFile = httpTlsKeyPath(ctl.dir);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(spkiPin(createPrivateKey(readFileSync(keyFile, "utf8")))).toBe(ctl.httpTls!.pin());
    expect(configuredHttpPin(ctl.config)).toBe(ctl.httpTls!.pin());
    const port = new URL(ctl.httpUrl).port;
    const out = await run(process.execPath, [CLI, "install-command", "--data-dir", ctl.dir, "--http", `127.0.0.1:${port}`, "--token-file", "/root/vigil-token"], { env: { VIGIL_PUBLIC_URL: "" } });
    expect(out.code, out.stderr).toBe(0);
    const line = out.stdout.split("\n")[0]!;
    expect(line).toBe(`curl -fsSLk --pinnedpubkey ${ctl.httpTls!.pin()} https://127.0.0.1:${port}/install.sh | sudo sh -s -- --token-file /root/vigil-token`);
    // Its fetch half, run as printed, gets the script from this controller.
    const fetched = await run("sh", ["-c", line.split(" | sudo ")[0]!]);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toContain(`VIGIL_TLS_PIN_DEFAULT='${ctl.httpTls!.pin()}'`);
  });
});

describe("the HTTP API with the admin's own certificate (VIGIL_HTTP_TLS_CERT/_KEY)", () => {
  it("serves that certificate and pins its key", async () => {
    const dir = scratch("vigil-admin-cert-");
    const own = await CertificateAuthority.loadOrCreate(join(dir, "corp-ca"));
    const cert = await own.issueServer({ dns: ["localhost"], ips: ["127.0.0.1"] }, 86_400_000);
    writeFileSync(join(dir, "server.crt"), cert.pem + own.certPem);
    writeFileSync(join(dir, "server.key"), cert.keyPem, { mode: 0o600 });
    const ctl = await startTestController({ https: true, env: { VIGIL_HTTP_TLS_CERT: join(dir, "server.crt"), VIGIL_HTTP_TLS_KEY: join(dir, "server.key") } });
    try {
      expect(ctl.httpTls!.pin()).toBe(spkiPin(createPrivateKey(cert.keyPem)));
      expect(configuredHttpPin(ctl.config)).toBe(ctl.httpTls!.pin()); // what install-command prints
      expect((await rawGet(`${ctl.httpUrl}/api/v1/healthz`, { ca: own.certPem })).status).toBe(200);
      await expect(rawGet(`${ctl.httpUrl}/api/v1/healthz`, { ca: ctl.security.trust.ca.certPem })).rejects.toThrow();
      // The admin renews the files in place (a new key too): picked up without a restart.
      const next = await own.issueServer({ dns: ["localhost"], ips: ["127.0.0.1"] }, 86_400_000);
      writeFileSync(join(dir, "server.crt"), next.pem + own.certPem);
      writeFileSync(join(dir, "server.key"), next.keyPem, { mode: 0o600 });
      const future = new Date(Date.now() + 5_000);
      utimesSync(join(dir, "server.crt"), future, future);
      utimesSync(join(dir, "server.key"), future, future);
      await ctl.httpTls!.refresh();
      expect(ctl.httpTls!.pin()).toBe(spkiPin(createPrivateKey(next.keyPem)));
      const served = await run("curl", ["-fsSk", "--pinnedpubkey", ctl.httpTls!.pin(), `${ctl.httpUrl}/api/v1/healthz`]);
      expect(served.code, served.stderr).toBe(0);
    } finally {
      await ctl.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
if (!external) console.warn("no non-loopback IPv4 address on this host: the remote-peer half of the plaintext test is skipped");

describe("a plaintext API (--insecure-http)", () => {
  let running: Awaited<ReturnType<typeof startController>>;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-plain-"));
    const config = loadConfig(
      { http: "0.0.0.0:0", grpc: "127.0.0.1:0", dataDir: dir, logLevel: "warn", insecureGrpc: true, insecureHttp: true },
      { ...process.env, VIGIL_PUBLIC_URL: "", VIGIL_HTTP_TLS_CERT: "", VIGIL_HTTP_TLS_KEY: "" },
    );
    running = await startController(config, { logger: createLogger("error") });
  });
  afterAll(async () => {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves install.sh and the binary to this host only, never to another host over plain HTTP", async () => {
    const port = new URL(running.httpUrl).port;
    expect(running.httpUrl).toMatch(/^http:/);
    expect((await fetch(`http://127.0.0.1:${port}/install.sh`)).status).toBe(200);
    if (!external) return;
    for (const path of ["/install.sh", "/api/v1/agent/binary", "/api/v1/agent/binary.sha256"]) {
      const r = await fetch(`http://${external}:${port}${path}`);
      expect(r.status, path).toBe(403);
      expect(await r.text()).toContain("only served to this host");
    }
    expect((await fetch(`http://${external}:${port}/api/v1/healthz`)).status).toBe(200);
  });
});
