import type { webcrypto as WebCrypto } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ownerOnlyDir } from "../crypto/owner-only";
import { generateEcKeyPair, importSigningKey, type SigningKey } from "./ca-keys";
import { fingerprint, randomSerial, subtle, toPem, x509 } from "./x509";

export interface IssuedCertificate {
  pem: string;
  der: Buffer;
  serial: string;
  fingerprint: string;
  notBefore: number;
  notAfter: number;
}

/** SAN URI that carries the agent id in client certificates. */
export const AGENT_URI_PREFIX = "urn:vigil:agent:";
/** Clock skew tolerated between controller and agents when a certificate starts. */
const BACKDATE_MS = 5 * 60_000;
const CA_VALIDITY_MS = 10 * 365 * 86_400_000;

export class CsrRejected extends Error {}

/**
 * The controller's certificate authority: signs its own TLS server certificate
 * and the agents' client certificates. Created on first start in `dir`
 * (ca.crt + ca.key, key mode 0600); an existing pair there is used as is
 * (bring your own CA, e.g. an intermediate of a company PKI).
 */
export class CertificateAuthority {
  private constructor(
    readonly cert: x509.X509Certificate,
    private readonly signer: SigningKey,
    readonly created: boolean,
  ) {}

  static async loadOrCreate(dir: string, now = Date.now()): Promise<CertificateAuthority> {
    const crtFile = join(dir, "ca.crt");
    const keyFile = join(dir, "ca.key");
    const haveCrt = existsSync(crtFile);
    const haveKey = existsSync(keyFile);
    if (haveCrt !== haveKey) throw new Error(`CA in ${dir}: found ${haveCrt ? "ca.crt without ca.key" : "ca.key without ca.crt"}; supply both or neither`);
    if (haveCrt) {
      // Tighten a BYO key file (and its directory) that was copied in with loose permissions.
      try {
        chmodSync(keyFile, 0o600);
        ownerOnlyDir(dir, true);
      } catch {
        // read-only mount: leave it
      }
      const cert = new x509.X509Certificate(readFileSync(crtFile, "utf8"));
      const bc = cert.getExtension(x509.BasicConstraintsExtension);
      if (bc && !bc.ca) throw new Error(`CA in ${dir}: ca.crt is not a CA certificate (basicConstraints CA:FALSE)`);
      return new CertificateAuthority(cert, await importSigningKey(readFileSync(keyFile, "utf8")), false);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys = await generateEcKeyPair();
    const algorithm = { name: "ECDSA", hash: "SHA-256" } as WebCrypto.EcdsaParams;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=Vigil controller CA ${new Date(now).toISOString().slice(0, 10)}, O=Vigil`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_VALIDITY_MS),
      signingAlgorithm: algorithm,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await subtle.exportKey("pkcs8", keys.privateKey);
    writeFileSync(keyFile, toPem(pkcs8, "PRIVATE KEY"), { mode: 0o600, flag: "wx" });
    writeFileSync(crtFile, cert.toString("pem") + "\n", { mode: 0o644, flag: "wx" });
    return new CertificateAuthority(cert, await importSigningKey(toPem(pkcs8, "PRIVATE KEY")), true);
  }

  get certPem(): string {
    return this.cert.toString("pem") + "\n";
  }

  /** sha256 of the CA certificate DER: what agents pin with --ca-pin. */
  get fingerprint(): string {
    return fingerprint(this.cert.rawData);
  }

  /** A fresh TLS server certificate (and key) for the gRPC port. */
  async issueServer(sans: { dns: string[]; ips: string[] }, validityMs: number, now = Date.now()): Promise<IssuedCertificate & { keyPem: string }> {
    const keys = await generateEcKeyPair();
    const issued = await this.issueServerForKey(keys.publicKey, sans, validityMs, now);
    return { ...issued, keyPem: toPem(await subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY") };
  }

  /** A TLS server certificate for a key kept elsewhere (the HTTPS listener's, whose key is pinned). */
  async issueServerForKey(publicKey: WebCrypto.CryptoKey, sans: { dns: string[]; ips: string[] }, validityMs: number, now = Date.now()): Promise<IssuedCertificate> {
    const names = [...sans.dns.map((value) => ({ type: "dns" as const, value })), ...sans.ips.map((value) => ({ type: "ip" as const, value }))];
    return this.sign(
      publicKey,
      `CN=${sans.dns[0] ?? "vigil-controller"}, O=Vigil`,
      [
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.SubjectAlternativeNameExtension(names),
      ],
      validityMs,
      now,
    );
  }

  /**
   * Reads an agent's PKCS#10 request and returns its public key, after checking
   * the request's self-signature (proof of key possession) and the key type.
   * Nothing else is taken from the request: subject, SANs and usages are
   * decided by the controller, never by the requester.
   */
  async readCsr(csrDer: Uint8Array): Promise<WebCrypto.CryptoKey> {
    if (!csrDer.length || csrDer.length > 16 * 1024) throw new CsrRejected("certificate request is empty or larger than 16 KiB");
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(Buffer.from(csrDer));
    } catch (err) {
      throw new CsrRejected(`certificate request is not a valid DER PKCS#10 request (${(err as Error).message.slice(0, 120)})`);
    }
    let valid: boolean;
    try {
      valid = await csr.verify();
    } catch {
      valid = false;
    }
    if (!valid) throw new CsrRejected("certificate request signature does not verify (proof of key possession failed)");
    const alg = csr.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
    const okKey = (alg.name === "ECDSA" && (alg.namedCurve === "P-256" || alg.namedCurve === "P-384")) || (alg.name.startsWith("RSA") && (alg.modulusLength ?? 0) >= 2048);
    if (!okKey) throw new CsrRejected(`certificate request key ${alg.name} ${alg.namedCurve ?? alg.modulusLength ?? ""} is not accepted (use ECDSA P-256/P-384 or RSA >= 2048)`);
    try {
      return (await csr.publicKey.export()) as WebCrypto.CryptoKey;
    } catch (err) {
      throw new CsrRejected(`certificate request public key cannot be used (${(err as Error).message.slice(0, 120)})`);
    }
  }

  /** A client certificate for `agentId` (CN and SAN URI urn:vigil:agent:<id>, clientAuth only). */
  async issueAgent(publicKey: WebCrypto.CryptoKey, agentId: string, validityMs: number, now = Date.now()): Promise<IssuedCertificate> {
    return this.sign(
      publicKey,
      `CN=${agentId}, O=Vigil agents`,
      [
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectAlternativeNameExtension([{ type: "url", value: AGENT_URI_PREFIX + agentId }]),
      ],
      validityMs,
      now,
    );
  }

  private async sign(publicKey: WebCrypto.CryptoKey, subject: string, extensions: x509.Extension[], validityMs: number, now: number): Promise<IssuedCertificate> {
    const notBefore = now - BACKDATE_MS;
    // Never outlive the CA: a chain with an expired root fails anyway, later and more confusingly.
    const notAfter = Math.min(now + validityMs, this.cert.notAfter.getTime());
    const serial = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject,
      issuer: this.cert.subjectName,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      signingAlgorithm: this.signer.algorithm,
      publicKey,
      signingKey: this.signer.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        ...extensions,
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.cert.publicKey),
      ],
    });
    const der = Buffer.from(cert.rawData);
    // Dates in X.509 have second precision; report what the certificate really says.
    return { pem: cert.toString("pem") + "\n", der, serial, fingerprint: fingerprint(der), notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() };
  }
}
