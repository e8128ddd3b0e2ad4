import { status } from "@grpc/grpc-js";
import { fullJitterDelay } from "@vigil/proto";
import type { Log } from "../util/log";
import { EnrollError, renewRpc } from "./enroll-client";
import { identityFrom } from "./enroll";
import { newKeyRequest } from "./key-request";
import { loadTlsIdentity, saveTlsIdentity } from "./tls-files";
import { hostname } from "node:os";

/** Node timers overflow past ~24.8 days; longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Renews the client certificate at 2/3 of its lifetime with a new key, over a
 * connection authenticated by the current certificate. A failure retries with
 * backoff until the certificate expires; a revoked agent stops trying.
 * The running stream keeps its connection; the next one uses the new pair.
 */
export class CertificateRenewer {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private failures = 0;

  constructor(
    private readonly stateDir: string,
    private readonly controller: string,
    private readonly log: Log,
    private readonly onRenewed?: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** When the next attempt is due (exposed for status and tests). */
  dueAt(): number {
    const id = loadTlsIdentity(this.stateDir);
    const from = Math.min(Math.max(id.receivedAtMs, id.notBeforeMs), id.notAfterMs);
    return from + Math.floor(((id.notAfterMs - from) * 2) / 3);
  }

  private schedule(delayMs?: number): void {
    if (this.stopped) return;
    // At least a second apart: a certificate already past its renewal point must not spin.
    const wait = Math.max(1_000, delayMs ?? this.dueAt() - this.now());
    this.timer = setTimeout(() => (wait > MAX_TIMER_MS ? this.schedule() : void this.renewNow()), Math.min(wait, MAX_TIMER_MS));
    this.timer.unref();
  }

  async renewNow(): Promise<boolean> {
    const current = loadTlsIdentity(this.stateDir);
    try {
      const { keyPem, csrDer } = await newKeyRequest(hostname());
      const creds = await renewRpc(this.controller, current.caPem, current, csrDer);
      if (creds.agentId !== current.agentId) throw new Error(`the controller renewed for agent ${creds.agentId}, not ${current.agentId}`);
      const next = identityFrom(creds, keyPem, current.caFingerprint, current.controller);
      if (!next.commandPublicKey.equals(current.commandPublicKey)) throw new Error("the controller's command key changed on renewal; refusing (re-enroll to accept a new key)");
      saveTlsIdentity(this.stateDir, next);
      this.failures = 0;
      this.log.info("client certificate renewed", { agentId: next.agentId, notAfter: new Date(next.notAfterMs).toISOString() });
      this.onRenewed?.();
      this.schedule();
      return true;
    } catch (err) {
      this.failures++;
      const revoked = err instanceof EnrollError && err.code === status.PERMISSION_DENIED;
      this.log.warn("client certificate renewal failed", { error: (err as Error).message, expires: new Date(current.notAfterMs).toISOString(), retrying: !revoked });
      if (!revoked) this.schedule(fullJitterDelay(this.failures, { baseMs: 30_000, capMs: 3_600_000 }));
      return false;
    }
  }
}
