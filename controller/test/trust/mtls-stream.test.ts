import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { EnrollmentServiceClient } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/main";
import { CertificateAuthority } from "../../src/trust/ca";
import { newKeyRequest } from "../../../agent/src/enroll/key-request";
import { renewRpc, type EnrollError } from "../../../agent/src/enroll/enroll-client";
import { startTestController, type TestController } from "../support/controller";
import { waitFor } from "../support/wait";
import { TlsAgent } from "./tls-agent";
import { createToken, enrollAgent } from "./trust-fixture";

async function refusal(s: TlsAgent) {
  s.hello();
  const err = await waitFor("the stream to be refused", () => s.error, 10_000);
  expect(s.welcomed()).toBe(false);
  s.close();
  return err;
}

describe("agent stream over mTLS", () => {
  let ctl: TestController;
  let caPem: string;
  beforeAll(async () => {
    ctl = await startTestController({ mtls: true, env: { VIGIL_REVOCATION_POLL: "500ms" } });
    caPem = ctl.security.trust.ca.certPem;
  });
  afterAll(async () => ctl?.dispose());

  it("an enrolled agent is identified by its certificate, never by Hello", async () => {
    const a = await enrollAgent(ctl, await createToken(ctl, { tags: ["from-token"] }));
    const s = new TlsAgent(ctl.grpcPort, caPem, a);
    s.hello("someone-else");
    await waitFor("welcome", () => s.welcomed() || s.error, 10_000);
    expect(s.error).toBeUndefined();
    const agent = await waitFor("agent row", async () => (await ctl.registry.get(a.agentId)) ?? undefined);
    // Only the token's tags are trusted; what Hello claims is kept apart (issue #10 class 9).
    expect(agent.tags).toEqual(["from-token"]);
    expect(agent.selfReportedTags).toEqual(["self-tag"]);
    expect(await ctl.registry.get("someone-else")).toBeNull();
    s.close();
  });

  it("a stream without a client certificate is refused with UNAUTHENTICATED and audited", async () => {
    const err = await refusal(new TlsAgent(ctl.grpcPort, caPem));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/no client certificate/);
    const rec = await waitFor("audit record", async () => (await ctl.audit.query({ action: "agent.refused", limit: 50 })).find((r) => r.details.includes("no_certificate")));
    expect(rec.actor).toBe("unauthenticated");
  });

  it("a certificate from another CA is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-rogue-ca-"));
    try {
      const rogue = await CertificateAuthority.loadOrCreate(dir);
      const { keyPem, csrDer } = await newKeyRequest("rogue");
      const enrolled = await enrollAgent(ctl, await createToken(ctl));
      // Same agent id as a real one, signed by a CA the controller does not know.
      const forged = await rogue.issueAgent(await rogue.readCsr(csrDer), enrolled.agentId, 86_400_000);
      const err = await refusal(new TlsAgent(ctl.grpcPort, caPem, { keyPem, certPem: forged.pem }));
      expect(err.code).toBe(status.UNAUTHENTICATED);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a plaintext client cannot talk to the TLS port", async () => {
    const { RawAgent } = await import("../support/raw-agent");
    const raw = new RawAgent(ctl.grpcPort);
    raw.hello("plain");
    const err = await waitFor("failure", () => raw.error, 10_000);
    expect(err.code).toBe(status.UNAVAILABLE);
    raw.close();
  });

  it("`agent revoke` from the CLI closes the open stream within seconds and refuses reconnects and renewal", async () => {
    const a = await enrollAgent(ctl, await createToken(ctl));
    const s = new TlsAgent(ctl.grpcPort, caPem, a);
    s.hello();
    await waitFor("welcome", () => s.welcomed(), 10_000);
    const t0 = Date.now();
    const code = await main(["agent", "revoke", a.agentId, "--reason", "laptop stolen", "--database", ctl.config.databaseUrl, "--data-dir", ctl.dir]);
    expect(code).toBe(0);
    const closed = await waitFor("stream closed", () => s.error, 10_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(closed.code).toBe(status.ABORTED);
    expect(closed.details).toMatch(/revoked/);
    s.close();

    const again = await refusal(new TlsAgent(ctl.grpcPort, caPem, a));
    expect(again.code).toBe(status.PERMISSION_DENIED);
    const { csrDer } = await newKeyRequest("h");
    const renewErr = await renewRpc(`127.0.0.1:${ctl.grpcPort}`, caPem, a, csrDer).then(
      () => undefined,
      (e: EnrollError) => e,
    );
    expect(renewErr?.code).toBe(status.PERMISSION_DENIED);
    const actions = (await ctl.audit.query({ limit: 200 })).filter((r) => r.target === `agent:${a.agentId}`).map((r) => `${r.actor} ${r.action}`);
    expect(actions).toEqual(expect.arrayContaining(["cli agent.revoked", "system agent.stream_closed"]));
  });

  it("renewal with the current certificate issues a fresh one that works; the id stays", async () => {
    const a = await enrollAgent(ctl, await createToken(ctl));
    const { keyPem, csrDer } = await newKeyRequest("h");
    const c = await renewRpc(`127.0.0.1:${ctl.grpcPort}`, caPem, a, csrDer);
    expect(c.agentId).toBe(a.agentId);
    expect(c.certificatePem).not.toBe(a.certPem);
    const s = new TlsAgent(ctl.grpcPort, caPem, { keyPem, certPem: c.certificatePem });
    s.hello();
    await waitFor("welcome", () => s.welcomed() || s.error, 10_000);
    expect(s.error).toBeUndefined();
    s.close();
    // Renew without a certificate is refused.
    const client = new EnrollmentServiceClient(`127.0.0.1:${ctl.grpcPort}`, credentials.createSsl(Buffer.from(caPem)));
    const anon = await new Promise<ServiceError | null>((resolve) => client.renew({ csrDer: Buffer.from(csrDer) }, (err) => resolve(err)));
    client.close();
    expect(anon?.code).toBe(status.UNAUTHENTICATED);
  });
});
