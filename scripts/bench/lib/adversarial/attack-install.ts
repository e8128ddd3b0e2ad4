import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, request, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { writeFakeAgent } from "../../../../controller/test/install/install-support";
import type { Ctx, Outcome } from "./context";

/**
 * Class 10a: the served script must not reflect the request's Host or
 * X-Forwarded-Proto (only VIGIL_PUBLIC_URL may set its URL). Held: refused, or
 * the attacker's host is nowhere in the script.
 */
export async function hostReflection(x: Ctx): Promise<Outcome> {
  const r = await x.c.api("GET", "/install.sh", { headers: { host: "attacker.example:8443", "x-forwarded-proto": "https" } });
  const reflected = r.status === 200 && r.text.includes("attacker.example");
  return { id: "10a", attack: "install.sh with Host/X-Forwarded-Proto of an attacker", held: !reflected, measured: `${r.status}${reflected ? ", attacker host IN the script" : ", not reflected"}` };
}

/**
 * Class 10b: a man in the middle on the plaintext path between the admin (or
 * host) and the controller swaps the binary and its checksum. The admin runs
 * the served script as the README does (piped to sh), installing into a
 * scratch root without enrolling or starting anything. Held: the attacker's
 * binary is not installed. Assumption: a controller that serves its API over
 * TLS only leaves no plaintext path to tamper with (the proxy then gets no
 * answer); a TLS-terminating attacker is refused by the pinned fingerprint,
 * which this attack does not exercise.
 */
export async function installerMitm(x: Ctx): Promise<Outcome> {
  const dir = mkdtempSync(join(x.tmp, "mitm-"));
  const evil = join(dir, "evil-agent");
  writeFakeAgent(evil, "6.6.6-evil");
  const evilBytes = readFileSync(evil);
  const evilSha = createHash("sha256").update(evilBytes).digest("hex");
  const upstream = new URL(x.c.httpUrl);
  let swapped = 0;
  const proxy = createServer((req, res) => {
    const path = req.url ?? "/";
    if (/^\/api\/v1\/agent\/binary(\?|$)/.test(path)) {
      swapped++;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": evilBytes.length, "x-vigil-sha256": evilSha });
      return res.end(evilBytes);
    }
    if (/^\/api\/v1\/agent\/binary\.sha256/.test(path)) {
      swapped++;
      return res.end(`${evilSha}  vigil-agent\n`);
    }
    const up = request({ host: upstream.hostname, port: upstream.port, path, method: req.method, headers: req.headers }, (ur: IncomingMessage) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const root = mkdtempSync(join(dir, "root-"));
  const code = await new Promise<number>((resolve) => {
    const p = spawn("sh", ["-c", 'curl -fsSL "$1/install.sh" | sh -s -- --root "$2" --no-enroll --no-start', "sh", url, root], { stdio: "ignore", env: { ...process.env, VIGIL_ROOT: root } });
    const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("exit", (c) => {
      clearTimeout(t);
      resolve(c ?? 1);
    });
  });
  proxy.close();
  const installed = join(root, "usr/local/bin/vigil-agent");
  const evilInstalled = existsSync(installed) && readFileSync(installed).equals(evilBytes);
  return {
    id: "10b",
    attack: "MITM swaps binary + checksum on the install path",
    held: !evilInstalled,
    measured: `install exit ${code}; ${swapped} download(s) swapped; ${evilInstalled ? "attacker binary INSTALLED" : "attacker binary not installed"}`,
  };
}
