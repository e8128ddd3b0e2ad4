import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { run, scratch, SCRIPT, sha256, snapshot, writeFakeAgent } from "./install-support";

/**
 * Issue 10, class 10: a man in the middle between a host and the controller. The old installer
 * fetched the binary and its checksum from the same plain-HTTP URL, so swapping both passed
 * "sha256 verified" and ran the attacker's binary as root. Here the attacker answers for the
 * controller, over plain HTTP and over HTTPS with a certificate from the controller's own CA
 * (the strongest position short of stealing the listener's key), serving its own script, a
 * swapped binary and the swapped binary's correct checksum.
 */
describe("install.sh against a man in the middle", () => {
  let ctl: TestController;
  let dir: string;
  let genuine: string;
  let evil: Buffer;
  let pin: string;
  const hits: string[] = [];
  let plain: Server;
  let plainUrl: string;
  let tls: Server;
  let tlsUrl: string;

  // The attacker: its own install.sh, a swapped agent, and that agent's true checksum.
  const attacker = (req: IncomingMessage, res: ServerResponse) => {
    hits.push(req.url ?? "");
    if (req.url === "/install.sh") return res.end('#!/bin/sh\ntouch "$2/PWNED"\n');
    if (req.url === "/api/v1/agent/binary") return res.end(evil);
    if (req.url === "/api/v1/agent/binary.sha256") return res.end(`${sha256(evil)}  vigil-agent\n`);
    res.statusCode = 404;
    res.end();
  };

  beforeAll(async () => {
    dir = scratch("vigil-mitm-");
    genuine = join(dir, "vigil-agent");
    writeFakeAgent(genuine, "1.0.0-genuine");
    const evilPath = join(dir, "evil-agent");
    writeFakeAgent(evilPath, "6.6.6-evil");
    evil = readFileSync(evilPath);
    ctl = await startTestController({ mtls: true, https: true, env: { VIGIL_AGENT_BINARY: genuine } });
    pin = ctl.httpTls!.pin();
    plain = createHttpServer(attacker);
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    // A certificate for 127.0.0.1 signed by the controller's own CA, on the attacker's key.
    const forged = await ctl.security.trust.ca.issueServer({ dns: ["localhost"], ips: ["127.0.0.1"] }, 3_600_000);
    tls = createHttpsServer({ cert: forged.pem + ctl.security.trust.ca.certPem, key: forged.keyPem }, attacker);
    await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
    tlsUrl = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await ctl?.dispose();
    await Promise.all([plain, tls].map((s) => s && new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it("the attacker is convincing: CA-valid certificate, and the swapped binary matches the checksum it serves", async () => {
    const caFile = join(dir, "ca.crt");
    writeFileSync(caFile, ctl.security.trust.ca.certPem);
    const sum = await run("curl", ["-fsS", "--cacert", caFile, `${tlsUrl}/api/v1/agent/binary.sha256`]);
    expect(sum.code, sum.stderr).toBe(0);
    const bin = await run("sh", ["-c", 'curl -fsS --cacert "$1" "$2/api/v1/agent/binary" | sha256sum', "sh", caFile, tlsUrl]);
    expect(bin.stdout.split(" ")[0]).toBe(sum.stdout.split(" ")[0]);
    hits.length = 0;
  });

  it("the admin's pinned line refuses the attacker's server before sending a request; nothing runs", async () => {
    const root = scratch("vigil-root-mitm-");
    const r = await run("sh", ["-c", 'curl -fsSLk --pinnedpubkey "$1" "$2/install.sh" | dash -s -- --root "$3" --no-enroll', "sh", pin, tlsUrl, root]);
    expect(r.stderr).toMatch(/pinned public key/i);
    expect(snapshot(root)).toEqual({}); // no PWNED, nothing installed
    expect(hits).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  it("the genuine script, pointed at the attacker over HTTPS, refuses the download on the pin", async () => {
    const root = scratch("vigil-root-mitm-");
    const r = await run("sh", ["-c", 'curl -fsSLk --pinnedpubkey "$1" "$2/install.sh" | dash -s -- --root "$3" --no-enroll --url "$4"', "sh", pin, ctl.httpUrl, root, tlsUrl]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pin mismatch means the server is not this controller: nothing was installed/);
    expect(snapshot(root)).toEqual({});
    expect(hits).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  it("the genuine script, pointed at the attacker over plain HTTP, refuses to download at all", async () => {
    const root = scratch("vigil-root-mitm-");
    const r = await run("sh", ["-c", 'curl -fsSLk --pinnedpubkey "$1" "$2/install.sh" | dash -s -- --root "$3" --no-enroll --url "$4"', "sh", pin, ctl.httpUrl, root, plainUrl]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refusing to download the agent over plain HTTP");
    expect(snapshot(root)).toEqual({});
    expect(hits).toEqual([]);
    // The served script carries the pin, so it will not even try plain HTTP; the repository's
    // script (no pin) accepts plain HTTP only with a checksum the admin brought, which the swap fails.
    const withSum = await run("dash", [SCRIPT, "--root", root, "--no-enroll", "--controller", "vigil.example:50051", "--url", plainUrl, "--sha256", sha256(readFileSync(genuine))]);
    expect(withSum.code).toBe(1);
    expect(withSum.stderr).toMatch(/checksum mismatch.*refusing to install/);
    expect(hits).toEqual(["/api/v1/agent/binary.sha256", "/api/v1/agent/binary"]);
    expect(snapshot(root)).toEqual({});
    hits.length = 0;
    rmSync(root, { recursive: true, force: true });
  });

  it("the real pinned flow installs the controller's binary", async () => {
    const root = scratch("vigil-root-mitm-");
    const r = await run("sh", ["-c", 'curl -fsSLk --pinnedpubkey "$1" "$2/install.sh" | dash -s -- --root "$3" --no-enroll', "sh", pin, ctl.httpUrl, root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("1.0.0-genuine");
    expect(readFileSync(join(root, "usr/local/bin/vigil-agent")).equals(readFileSync(genuine))).toBe(true);
    expect(hits).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });
});
