import type { PeerCertificate } from "node:tls";
import { fingerprint } from "./x509";

/** What grpc-js server calls offer (ServerSurfaceCall is not exported). */
export interface AuthContextCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

export interface PeerCert {
  der: Buffer;
  fingerprint: string;
  commonName: string;
}

/**
 * The client certificate of a call, only if TLS verified it against the CA:
 * grpc-js's auth context is empty for unauthorised sockets, so a missing,
 * foreign-CA or expired certificate all come back as undefined here.
 */
export function peerCertificate(call: AuthContextCall): PeerCert | undefined {
  let ctx;
  try {
    ctx = call.getAuthContext();
  } catch {
    return undefined;
  }
  const c = ctx?.sslPeerCertificate;
  if (!c?.raw?.length) return undefined;
  const cn = c.subject?.CN;
  return { der: c.raw, fingerprint: fingerprint(c.raw), commonName: Array.isArray(cn) ? (cn[0] ?? "") : (cn ?? "") };
}
