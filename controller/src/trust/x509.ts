// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 needs a WebCrypto; Node's is complete enough (ECDSA, RSA, SHA-2).
x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

export { x509 };
export const subtle = webcrypto.subtle;

/** sha256 of a certificate's DER encoding, lowercase hex: the form `--ca-pin` takes. */
export function fingerprint(der: ArrayBuffer | Uint8Array | Buffer): string {
  return createHash("sha256")
    .update(Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der))
    .digest("hex");
}

/** 128 random bits with the top bit clear, so the DER INTEGER stays positive. */
export function randomSerial(): string {
  const b = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  b[0] &= 0x7f;
  if (b[0] === 0) b[0] = 0x01;
  return b.toString("hex");
}

export function toPem(der: ArrayBuffer | Buffer, label: string): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}
