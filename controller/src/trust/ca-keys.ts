import type { webcrypto as WebCrypto } from "node:crypto";
import { createPrivateKey } from "node:crypto";
import { subtle } from "./x509";

export interface SigningKey {
  key: WebCrypto.CryptoKey;
  /** The signature algorithm certificates signed by this key carry. */
  algorithm: WebCrypto.Algorithm | WebCrypto.EcdsaParams;
}

/**
 * Imports a PEM private key (PKCS#8 or SEC1/PKCS#1) for signing, so a
 * bring-your-own CA can be EC (P-256/P-384) or RSA. Node parses the PEM; the
 * DER goes to WebCrypto.
 */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  const ko = createPrivateKey(pem);
  const der = ko.export({ type: "pkcs8", format: "der" });
  if (ko.asymmetricKeyType === "ec") {
    const curve = ko.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === "prime256v1" ? "P-256" : curve === "secp384r1" ? "P-384" : undefined;
    if (!namedCurve) throw new Error(`CA key: unsupported EC curve ${curve ?? "?"} (use P-256 or P-384)`);
    const key = await subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve }, false, ["sign"]);
    return { key, algorithm: { name: "ECDSA", hash: namedCurve === "P-384" ? "SHA-384" : "SHA-256" } as WebCrypto.EcdsaParams };
  }
  if (ko.asymmetricKeyType === "rsa") {
    if ((ko.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error("CA key: RSA keys shorter than 2048 bits are refused");
    const key = await subtle.importKey("pkcs8", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
    return { key, algorithm: { name: "RSASSA-PKCS1-v1_5" } };
  }
  throw new Error(`CA key: unsupported key type ${ko.asymmetricKeyType ?? "?"} (use EC P-256/P-384 or RSA)`);
}

export async function generateEcKeyPair(): Promise<WebCrypto.CryptoKeyPair> {
  return (await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as WebCrypto.CryptoKeyPair;
}
