import { X509Certificate } from "node:crypto";
import { hostname } from "node:os";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Credentials } from "@vigil/proto";
import { probeControllerCa, PinMismatch } from "./ca-probe";
import { enrollRpc } from "./enroll-client";
import { newKeyRequest } from "./key-request";
import { saveTlsIdentity, type TlsIdentity } from "./tls-files";
import { fingerprint, normalizePin } from "./pin";

export interface EnrollOptions {
  controller: string;
  token: string;
  /** sha256 of the CA certificate DER; without it the CA is trusted on first use. */
  caPin?: string;
  stateDir: string;
  /** Where to tell the operator the fingerprint accepted on first use. */
  notice?: (line: string) => void;
}

function pemFingerprint(pem: string): string {
  return fingerprint(new X509Certificate(pem).raw);
}

/** The identity to store from a controller's answer, after checking it really is for our key and CA. */
export function identityFrom(c: Credentials, keyPem: string, caFingerprint: string, controller: string): TlsIdentity {
  if (pemFingerprint(c.caCertificatePem) !== caFingerprint) throw new PinMismatch("the controller answered with a different CA than the one it presented in TLS");
  if (c.commandPublicKey.length !== 32) throw new Error("the controller sent no valid command-signing key");
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(c.agentId)) throw new Error("the controller assigned an invalid agent id");
  return {
    agentId: c.agentId,
    keyPem,
    certPem: c.certificatePem,
    caPem: c.caCertificatePem,
    commandPublicKey: Buffer.from(c.commandPublicKey),
    notBeforeMs: c.notBeforeMs,
    notAfterMs: c.notAfterMs,
    receivedAtMs: Date.now(),
    caFingerprint,
    controller,
  };
}

/**
 * `vigil-agent enroll`: pin the controller's CA, make a key pair, trade the
 * token and a CSR for a client certificate, and store everything (0600) in the
 * state dir. The agent id the controller chose replaces any earlier one.
 */
export async function enroll(o: EnrollOptions): Promise<TlsIdentity> {
  const pin = o.caPin ? normalizePin(o.caPin) : undefined;
  const probed = await probeControllerCa(o.controller);
  if (pin && probed.fingerprint !== pin) {
    throw new PinMismatch(`the controller's CA fingerprint is ${probed.fingerprint}, not the pinned ${pin}: refusing to enroll (wrong address, or someone in the middle)`);
  }
  if (!pin) o.notice?.(`trusting the controller CA on first use: sha256 ${probed.fingerprint} (compare with \`vigil-controller token create\` output; pass --ca-pin to enforce)`);
  const host = hostname();
  const { keyPem, csrDer } = await newKeyRequest(host);
  const creds = await enrollRpc(o.controller, probed.caPem, { token: o.token, csrDer, hostname: host });
  const id = identityFrom(creds, keyPem, probed.fingerprint, o.controller);
  saveTlsIdentity(o.stateDir, id);
  // The runtime reads its id from here; after enrollment it is the one in the certificate.
  mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(o.stateDir, "agent-id"), id.agentId + "\n", { mode: 0o600 });
  return id;
}
