import type { AuditLog } from "../audit/audit-log";
import type { AgentCertificates } from "./agent-certificates";
import type { AuthenticatedPeer } from "./mtls-authenticator";

export interface SessionCloser {
  session(agentId: string): { close(reason: string): void } | undefined;
}

/**
 * Makes revocation bite on streams that are already open. The CLI revokes by
 * writing the database, so the running controller polls the revocations
 * table (cheap indexed query) and closes the revoked agents' streams. It also
 * closes a stream whose certificate has expired; the agent reconnects with its
 * renewed certificate, or is refused.
 */
export class RevocationWatcher {
  private timer?: NodeJS.Timeout;
  private since: number;
  private readonly expiry = new Map<string, number>();
  private busy = false;

  constructor(
    private readonly certs: AgentCertificates,
    private readonly sessions: SessionCloser,
    private readonly audit: AuditLog,
    private readonly everyMs = 2_000,
    private readonly now: () => number = Date.now,
  ) {
    this.since = now();
  }

  /** Called when a stream authenticates: remember when its certificate runs out. */
  track(peer: AuthenticatedPeer): void {
    this.expiry.set(peer.agentId, peer.notAfter);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass; public so an in-process revocation (API) can act at once. */
  async poll(): Promise<void> {
    // Expiry needs no database: it is checked on every tick, also while a revocation query is slow
    // or failing (a stream on an expired certificate must not outlive a database hiccup).
    this.closeExpired();
    if (this.busy) return;
    this.busy = true;
    try {
      // Overlap the window a little: rows committed late by another process with an older timestamp.
      const rows = await this.certs.revokedSince(this.since - 10_000);
      for (const r of rows) {
        this.since = Math.max(this.since, r.revokedAt);
        const s = this.sessions.session(r.agentId);
        if (s) {
          s.close("agent revoked");
          this.expiry.delete(r.agentId);
          await this.audit.append({ actor: "system", action: "agent.stream_closed", target: `agent:${r.agentId}`, details: { reason: "revoked" } }).catch(() => undefined);
        }
      }
    } catch {
      // Database briefly unavailable: try again next tick.
    } finally {
      this.busy = false;
    }
  }

  private closeExpired(): void {
    const now = this.now();
    for (const [agentId, notAfter] of this.expiry) {
      if (now < notAfter) continue;
      this.expiry.delete(agentId);
      this.sessions.session(agentId)?.close("client certificate expired; reconnect with the renewed certificate");
    }
  }
}
