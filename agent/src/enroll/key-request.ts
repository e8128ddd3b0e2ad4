import { webcrypto } from "node:crypto";

function pem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * A fresh ECDSA P-256 key and a PKCS#10 request for it. The private key never
 * leaves this host; the controller only sees the request (public key plus a
 * signature proving we hold the private key).
 */
export async function newKeyRequest(hostname: string): Promise<{ keyPem: string; csrDer: Uint8Array }> {
  const keys = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  // The subject is a hint only: the controller puts the agent id it chooses in the certificate.
  const cn = hostname.replace(/[^A-Za-z0-9.-]/g, "").slice(0, 64) || "vigil-agent";
  const { x509 } = await import("./x509.js");
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys: keys as never, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as never });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { keyPem: pem(pkcs8, "PRIVATE KEY"), csrDer: new Uint8Array(csr.rawData) };
}
