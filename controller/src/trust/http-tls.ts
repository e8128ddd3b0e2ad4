import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import type { ControllerConfig } from "../config/config";
import type { CertificateAuthority } from "./ca";
import { serverNames } from "./server-names";
import { subtle } from "./x509";

const CERT_VALIDITY_MS = 90 * 86_400_000;
const CHECK_EVERY_MS = 3_600_000;

/** What the HTTPS listener needs, and the pin installers check it against. */
export interface HttpTls {
  /** Certificate chain and key for https.createServer. */
  httpsOptions: { cert: string; key: string };
  /**
   * `curl --pinnedpubkey` form of the listener's public key: `sha256//<base64 of the SPKI sha256>`.
   * Stable across restarts and certificate renewals (the key is kept), so an install line stays valid.
   */
  pin(): string;
  /** Lets a renewed or replaced certificate reach the running server without a restart. */
  attach(server: { setSecureContext(o: { cert: string; key: string }): void }): void;
  /** Renews (CA mode, when a third of the validity is left) or re-reads (admin files, when changed); hourly on its own. */
  refresh(): Promise<void>;
  stop(): void;
}

/** The listener's key, kept next to the command signing key (0600 in a 0700 directory). */
export function httpTlsKeyPath(dataDir: string): string {
  return join(dataDir, "keys", "http-tls.key");
}

export function spkiPin(key: KeyObject): string {
  const spki = (key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "der" });
  return `sha256//${createHash("sha256").update(spki).digest("base64")}`;
}

function loadOrCreateKey(path: string): KeyObject {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    try {
      writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    } catch (err) {
      // Another process (the CLI, a second start) created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return createPrivateKey(readFileSync(path, "utf8"));
}

/**
 * The pin of the HTTPS listener as configured, without starting it (for `install-command`):
 * the kept key's in CA mode (created now if it does not exist yet), the admin certificate's
 * key otherwise; undefined when the API is plaintext.
 */
export function configuredHttpPin(config: ControllerConfig): string | undefined {
  const t = config.httpTls;
  if (t.mode === "off") return undefined;
  if (t.mode === "files") return spkiPin(new X509Certificate(readFileSync(t.certFile)).publicKey);
  return spkiPin(loadOrCreateKey(httpTlsKeyPath(config.dataDir)));
}

/**
 * Names on the listener's certificate: the configured TLS names (or this host's names and
 * addresses), loopback so local tools verify, the public URL's host and the bound address.
 */
export function httpCertNames(config: ControllerConfig): { dns: string[]; ips: string[] } {
  const base = serverNames(config.tlsNames);
  const extra = ["localhost", "127.0.0.1", "::1"];
  if (config.publicUrl) extra.push(new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, ""));
  const h = config.httpAddr.host;
  if (h !== "0.0.0.0" && h !== "::" && h !== "") extra.push(h);
  const dns = new Set(base.dns);
  const ips = new Set(base.ips);
  for (const n of extra) (isIP(n) ? ips : dns).add(n);
  return { dns: [...dns], ips: [...ips] };
}

/** TLS for the HTTP API as configured; undefined for a plaintext API (--insecure-http). */
export async function createHttpTls(
  config: ControllerConfig,
  ca: CertificateAuthority,
  log: (level: "info" | "error", msg: string, fields?: Record<string, unknown>) => void,
): Promise<HttpTls | undefined> {
  const t = config.httpTls;
  if (t.mode === "off") return undefined;
  const servers: Array<{ setSecureContext(o: { cert: string; key: string }): void }> = [];
  let current: { cert: string; key: string; pin: string };
  let refresh: () => Promise<{ cert: string; key: string; pin: string } | undefined>;

  if (t.mode === "files") {
    const read = () => {
      const cert = readFileSync(t.certFile, "utf8");
      const key = readFileSync(t.keyFile, "utf8");
      const x = new X509Certificate(cert);
      if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error(`VIGIL_HTTP_TLS_KEY ${t.keyFile} is not the key of VIGIL_HTTP_TLS_CERT ${t.certFile}`);
      return { cert, key, pin: spkiPin(x.publicKey) };
    };
    const stamp = () => `${statSync(t.certFile).mtimeMs}:${statSync(t.keyFile).mtimeMs}`;
    current = read();
    let seen = stamp();
    // The admin renews the files in place (certbot and the like): picked up within the hour.
    refresh = async () => {
      if (stamp() === seen) return undefined;
      seen = stamp();
      return read();
    };
  } else {
    const key = loadOrCreateKey(httpTlsKeyPath(config.dataDir));
    const keyPem = key.export({ type: "pkcs8", format: "pem" }).toString();
    const pin = spkiPin(key);
    const publicKey = await subtle.importKey("spki", createPublicKey(key).export({ type: "spki", format: "der" }), { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const names = httpCertNames(config);
    let notAfter = 0;
    const issue = async () => {
      const c = await ca.issueServerForKey(publicKey, names, CERT_VALIDITY_MS);
      notAfter = c.notAfter;
      // The chain carries the CA so `curl --cacert ca.crt` and browsers that import it verify.
      return { cert: c.pem + ca.certPem, key: keyPem, pin };
    };
    current = await issue();
    refresh = async () => (notAfter - Date.now() > CERT_VALIDITY_MS / 3 ? undefined : issue());
  }
  log("info", "HTTP API over TLS", { mode: t.mode, pin: current.pin });

  const update = async () => {
    const next = await refresh();
    if (!next) return;
    current = next;
    for (const s of servers) s.setSecureContext({ cert: next.cert, key: next.key });
    log("info", "HTTP TLS certificate replaced", { mode: t.mode, pin: next.pin });
  };
  const timer = setInterval(() => void update().catch((err: unknown) => log("error", "HTTP TLS certificate renewal failed", { error: String(err) })), CHECK_EVERY_MS);
  timer.unref();

  return {
    httpsOptions: { cert: current.cert, key: current.key },
    pin: () => current.pin,
    attach: (server) => void servers.push(server),
    refresh: update,
    stop: () => clearInterval(timer),
  };
}
