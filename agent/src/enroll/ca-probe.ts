import { connect, type DetailedPeerCertificate } from "node:tls";
import { fingerprint } from "./pin";

export class PinMismatch extends Error {}

function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new Error(`controller: expected HOST:PORT, got "${address}"`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

function derToPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

/**
 * Before the agent trusts anything it fetches the controller's CA from the TLS
 * handshake (the server sends its chain) and checks it against the pin, or
 * shows its fingerprint (trust on first use). Every later connection, the
 * Enroll call included, then verifies the server against exactly this CA.
 */
export function probeControllerCa(address: string, timeoutMs = 10_000): Promise<{ caPem: string; fingerprint: string }> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    // Unverified on purpose: this connection only carries the chain we are about to pin; nothing is sent.
    const socket = connect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, rejectUnauthorized: false, ALPNProtocols: ["h2"], timeout: timeoutMs });
    const done = (err?: Error, v?: { caPem: string; fingerprint: string }) => {
      socket.destroy();
      if (err) reject(err);
      else resolve(v!);
    };
    socket.once("timeout", () => done(new Error(`no TLS handshake with ${address} within ${timeoutMs} ms`)));
    socket.once("error", (e: Error) => done(new Error(`cannot reach the controller at ${address} over TLS: ${e.message}`)));
    socket.once("secureConnect", () => {
      const leaf: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      if (!leaf?.raw) return done(new Error(`${address} presented no certificate`));
      // The top of the chain the server sent is its CA (ours, or a bring-your-own intermediate).
      const chain: DetailedPeerCertificate[] = [leaf];
      for (let c = leaf; chain.length < 8 && c.issuerCertificate?.raw && c.issuerCertificate !== c && c.issuerCertificate.fingerprint256 !== c.fingerprint256; c = c.issuerCertificate)
        chain.push(c.issuerCertificate);
      if (chain.length < 2) return done(new Error(`${address} did not send a CA certificate with its own; is this a Vigil controller?`));
      const cert = chain[chain.length - 1];
      done(undefined, { caPem: derToPem(cert.raw), fingerprint: fingerprint(cert.raw) });
    });
  });
}
