import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeFakeAgent } from "../../../../controller/test/install/install-support";
import type { Ctx, Outcome } from "./context";

const run = promisify(execFile);

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

/** A key and self-signed certificate for 127.0.0.1: what a man in the middle can present. */
async function rogueCertificate(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const key = join(dir, "rogue.key");
  const cert = join(dir, "rogue.crt");
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-days",
    "1",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

/**
 * Class 10b: a man in the middle between the admin (or the host) and the
 * controller. It answers in the controller's stead (plain HTTP, or TLS with
 * its own key when the controller is on TLS), rewrites the served script to
 * point back at itself and swaps the binary and its checksum together. The
 * admin runs the install line as the README gives it (piped to sh; with
 * `curl -k --pinnedpubkey <pin>` when the controller prints a pin), into a
 * scratch root, without enrolling or starting anything. Held: the
 * attacker's binary is not installed.
 */
export async function installerMitm(x: Ctx): Promise<Outcome> {
  const dir = mkdtempSync(join(x.tmp, "mitm-"));
  const evil = join(dir, "evil-agent");
  writeFakeAgent(evil, "6.6.6-evil");
  const evilBytes = readFileSync(evil);
  const evilSha = createHash("sha256").update(evilBytes).digest("hex");
  const upstream = new URL(x.c.httpUrl);
  const tls = upstream.protocol === "https:";
  let swapped = 0;
  let proxyOrigin = "";
  const handler = (req: IncomingMessage, res: ServerResponse) => {
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
    const up = (tls ? httpsRequest : request)({ host: upstream.hostname, port: upstream.port, path, method: req.method, headers: req.headers, rejectUnauthorized: false }, (ur: IncomingMessage) => {
      const chunks: Buffer[] = [];
      ur.on("data", (c: Buffer) => chunks.push(c));
      ur.on("end", () => {
        // The script is rewritten to send every later download through the attacker.
        const body = Buffer.from(Buffer.concat(chunks).toString("utf8").split(upstream.origin).join(proxyOrigin));
        const headers = { ...ur.headers };
        delete headers["content-length"];
        res.writeHead(ur.statusCode ?? 502, headers);
        res.end(body);
      });
    });
    up.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  };
  const proxy = tls ? createHttpsServer(await rogueCertificate(dir), handler) : createServer(handler);
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyOrigin = `${tls ? "https" : "http"}://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const fetchLine = x.c.pin ? 'curl -fsSLk --pinnedpubkey "$3" "$1/install.sh"' : 'curl -fsSL "$1/install.sh"';
  const install = (origin: string, root: string) =>
    new Promise<number>((resolve) => {
      const p = spawn("sh", ["-c", `${fetchLine} | sh -s -- --root "$2" --no-enroll --no-start`, "sh", origin, root, x.c.pin ?? ""], { stdio: "ignore", env: { ...process.env, VIGIL_ROOT: root } });
      const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
      p.on("exit", (c) => {
        clearTimeout(t);
        resolve(c ?? 1);
      });
    });
  // Control: the same line straight to the controller must install its binary, or the verdict means nothing.
  const controlRoot = mkdtempSync(join(dir, "control-"));
  await install(upstream.origin, controlRoot);
  const controlOk = existsSync(join(controlRoot, "usr/local/bin/vigil-agent")) && readFileSync(join(controlRoot, "usr/local/bin/vigil-agent")).equals(readFileSync(x.servedBinary));
  const root = mkdtempSync(join(dir, "root-"));
  const code = await install(proxyOrigin, root);
  proxy.close();
  const installed = join(root, "usr/local/bin/vigil-agent");
  const evilInstalled = existsSync(installed) && readFileSync(installed).equals(evilBytes);
  return {
    id: "10b",
    attack: `MITM (${tls ? "TLS with its own key" : "plain HTTP"}) swaps script, binary and checksum`,
    held: !evilInstalled && controlOk,
    measured: `install exit ${code}; ${swapped} download(s) swapped; ${evilInstalled ? "attacker binary INSTALLED" : "attacker binary not installed"}${x.c.pin ? " (admin pinned the controller key)" : ""}${controlOk ? "; the same line without the attacker installs" : "; inconclusive: the same line WITHOUT the attacker did not install either"}`,
  };
}
