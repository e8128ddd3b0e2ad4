import { describe, expect, it } from "vitest";
import type { AuditLog } from "../../src/audit/audit-log";
import type { AgentCertificates } from "../../src/trust/agent-certificates";
import { RevocationWatcher } from "../../src/trust/revocation-watcher";

/** Sessions that record why they were closed. */
function sessions() {
  const closed: Array<[string, string]> = [];
  return { closed, closer: { session: (agentId: string) => ({ close: (reason: string) => void closed.push([agentId, reason]) }) } };
}

const audit = { append: () => Promise.resolve() } as unknown as AuditLog;
const peer = (agentId: string, notAfter: number) => ({ agentId, serial: "01", notAfter, tokenId: "t", tags: [], issuedAt: 0 });

describe("RevocationWatcher: certificate expiry does not depend on the revocation query", () => {
  it("closes a stream whose certificate expired while the revocation query hangs", async () => {
    let now = 1_000;
    const hanging = { revokedSince: () => new Promise<never>(() => undefined) } as unknown as AgentCertificates;
    const s = sessions();
    const w = new RevocationWatcher(hanging, s.closer, audit, 500, () => now);
    w.track(peer("a1", 2_000));
    void w.poll(); // never finishes: the query hangs
    expect(s.closed).toEqual([]);
    now = 2_000;
    await w.poll();
    expect(s.closed).toEqual([["a1", "client certificate expired; reconnect with the renewed certificate"]]);
  });

  it("closes it while the revocation query fails, once", async () => {
    let now = 1_000;
    const failing = { revokedSince: () => Promise.reject(new Error("SQLITE_BUSY: database is locked")) } as unknown as AgentCertificates;
    const s = sessions();
    const w = new RevocationWatcher(failing, s.closer, audit, 500, () => now);
    w.track(peer("a1", 1_500));
    await w.poll();
    now = 1_500;
    await w.poll();
    await w.poll();
    expect(s.closed.map(([id]) => id)).toEqual(["a1"]);
  });

  it("a stream on a renewed certificate is closed at that certificate's expiry, not the old one's", async () => {
    let now = 1_000;
    const none = { revokedSince: () => Promise.resolve([]) } as unknown as AgentCertificates;
    const s = sessions();
    const w = new RevocationWatcher(none, s.closer, audit, 500, () => now);
    w.track(peer("a1", 2_000));
    w.track(peer("a1", 5_000));
    now = 3_000;
    await w.poll();
    expect(s.closed).toEqual([]);
    now = 5_000;
    await w.poll();
    expect(s.closed.map(([id]) => id)).toEqual(["a1"]);
  });
});
