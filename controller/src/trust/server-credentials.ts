import { experimental, type ServerCredentials } from "@grpc/grpc-js";

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

/**
 * TLS for the agent port: client certificates are requested and verified
 * against the CA, but a connection without one is not cut at the handshake.
 * grpc-js cannot require certificates per service, and Enroll must be
 * reachable by an agent that has none yet; AgentService.Connect and Renew then
 * insist on a verified certificate in their handlers (grpc-js exposes the
 * peer certificate only when OpenSSL verified it). A refusal there is a clear
 * gRPC status plus an audit record instead of an anonymous handshake failure.
 *
 * One provider serves both the CA and the identity, which also lets the server
 * certificate be replaced without a restart.
 */
export class TlsMaterial {
  private caListeners = new Set<CaListener>();
  private idListeners = new Set<IdListener>();

  constructor(
    private caPem: string,
    private certChainPem: string,
    private keyPem: string,
  ) {}

  update(certChainPem: string, keyPem: string): void {
    this.certChainPem = certChainPem;
    this.keyPem = keyPem;
    for (const l of this.idListeners) l(this.identity());
  }

  credentials(): ServerCredentials {
    // Both slots take the same provider (the helper's parameter order differs between its
    // declaration and its constructor in grpc-js 1.14; with one object it cannot matter).
    return experimental.createCertificateProviderServerCredentials(this, this, false);
  }

  private identity() {
    return { certificate: Buffer.from(this.certChainPem), privateKey: Buffer.from(this.keyPem) };
  }

  // grpc-js subscribes before it registers its own watcher, so a synchronous first update
  // would be lost and the server would drop every connection: deliver on the next tick.
  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    process.nextTick(() => this.caListeners.has(l) && l({ caCertificate: Buffer.from(this.caPem) }));
  }

  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }

  addIdentityCertificateListener(l: IdListener): void {
    this.idListeners.add(l);
    process.nextTick(() => this.idListeners.has(l) && l(this.identity()));
  }

  removeIdentityCertificateListener(l: IdListener): void {
    this.idListeners.delete(l);
  }
}
