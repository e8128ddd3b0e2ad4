import type { AuditLog } from "../audit/audit-log";
import type { CertificateRepository } from "../database/repositories/certificate-repository";
import type { EnrollmentTokenRepository } from "../database/repositories/enrollment-token-repository";
import { AgentCertificates } from "./agent-certificates";
import { CertificateAuthority } from "./ca";
import { EnrollmentHandlers } from "./enrollment-service";
import { EnrollmentTokens } from "./enrollment-tokens";
import { MtlsAuthenticator } from "./mtls-authenticator";
import { RevocationWatcher, type SessionCloser } from "./revocation-watcher";
import { serverNames } from "./server-names";
import { TlsMaterial } from "./server-credentials";

export interface TrustSettings {
  caDir: string;
  /** Names for the server certificate; empty: localhost, loopback, this host's names/addresses. */
  tlsNames: string[];
  clientCertValidityMs: number;
  revocationPollMs: number;
}

export interface Trust {
  ca: CertificateAuthority;
  tokens: EnrollmentTokens;
  certs: AgentCertificates;
  authenticator: MtlsAuthenticator;
  enrollment: EnrollmentHandlers;
  tls: TlsMaterial;
  watcher: RevocationWatcher;
  stop(): void;
}

/** Where trust keeps its state. */
export interface TrustRepositories {
  certificates: CertificateRepository;
  enrollmentTokens: EnrollmentTokenRepository;
}

const SERVER_CERT_VALIDITY_MS = 90 * 86_400_000;

/** Builds the controller's PKI and agent identity pieces; the caller wires them into gRPC. */
export async function createTrust(
  s: TrustSettings,
  repos: TrustRepositories,
  audit: AuditLog,
  sessions: SessionCloser,
  commandPublicKey: () => Buffer,
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void,
): Promise<Trust> {
  const ca = await CertificateAuthority.loadOrCreate(s.caDir);
  if (ca.created) {
    await audit.append({ actor: "system", action: "ca.created", target: ca.cert.subject, details: { fingerprint: ca.fingerprint, notAfter: ca.cert.notAfter.toISOString() } });
  }
  log("info", "controller CA", { dir: s.caDir, created: ca.created, fingerprint: ca.fingerprint });
  const names = serverNames(s.tlsNames);
  const server = await ca.issueServer(names, SERVER_CERT_VALIDITY_MS);
  // The chain includes the CA so an agent can pin it from the handshake before it trusts anything.
  const tls = new TlsMaterial(ca.certPem, server.pem + ca.certPem, server.keyPem);
  const tokens = new EnrollmentTokens(repos.enrollmentTokens);
  const certs = new AgentCertificates(repos.certificates);
  const watcher = new RevocationWatcher(certs, sessions, audit, s.revocationPollMs);
  const authenticator = new MtlsAuthenticator(certs, audit, (peer) => watcher.track(peer));
  const enrollment = new EnrollmentHandlers({ ca, tokens, certs, audit, authenticator, commandPublicKey, clientCertValidityMs: s.clientCertValidityMs, log });
  // Re-issue the server certificate well before it runs out, without a restart (checked hourly:
  // timers longer than ~24.8 days overflow in Node).
  let serverNotAfter = server.notAfter;
  const renewTimer = setInterval(() => {
    if (serverNotAfter - Date.now() > SERVER_CERT_VALIDITY_MS / 3) return;
    void ca.issueServer(names, SERVER_CERT_VALIDITY_MS).then(
      (c) => {
        serverNotAfter = c.notAfter;
        tls.update(c.pem + ca.certPem, c.keyPem);
      },
      (err) => log("error", "server certificate renewal failed", { error: String(err) }),
    );
  }, 3_600_000);
  renewTimer.unref();
  watcher.start();
  return {
    ca,
    tokens,
    certs,
    authenticator,
    enrollment,
    tls,
    watcher,
    stop() {
      clearInterval(renewTimer);
      watcher.stop();
    },
  };
}
