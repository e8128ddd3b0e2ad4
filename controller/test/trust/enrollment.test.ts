import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../../src/trust/x509";
import { AGENT_URI_PREFIX } from "../../src/trust/ca";
import { EnrollmentTokenRepository } from "../../src/database/repositories/enrollment-token-repository";
import { EnrollmentTokens } from "../../src/trust/enrollment-tokens";
import { newKeyRequest } from "../../../agent/src/enroll/key-request";
import { enrollRpc, EnrollError } from "../../../agent/src/enroll/enroll-client";
import { startTestController, type TestController } from "../support/controller";
import { createToken, enrollAgent } from "./trust-fixture";

async function enrollError(p: Promise<unknown>): Promise<EnrollError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EnrollError);
  return err as EnrollError;
}

describe("enrollment tokens", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController({ mtls: true });
  });
  afterAll(async () => ctl?.dispose());

  it("a good token yields a short-lived client certificate for a controller-chosen id, audited", async () => {
    const token = await createToken(ctl, { tags: ["prod", "web"] });
    const a = await enrollAgent(ctl, token);
    const cert = new x509.X509Certificate(a.certPem);
    expect(cert.subject).toBe(`CN=${a.agentId}, O=Vigil agents`);
    expect(a.agentId).toMatch(/^[0-9a-f-]{36}$/);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([{ type: "url", value: AGENT_URI_PREFIX + a.agentId }]);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(await cert.verify({ publicKey: ctl.security.trust.ca.cert.publicKey, signatureOnly: true })).toBe(true);
    const lifetime = cert.notAfter.getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(7 * 86_400_000 - 60_000);
    expect(lifetime).toBeLessThanOrEqual(7 * 86_400_000);
    const rec = await ctl.audit.query({ action: "agent.enrolled", limit: 10 });
    expect(rec.find((r) => r.target === `agent:${a.agentId}`)?.details).toContain('"tags":["prod","web"]');
    // The token never reaches the audit trail or the token listing.
    const all = JSON.stringify(await ctl.audit.query({ limit: 1000 })) + JSON.stringify(await ctl.security.trust.tokens.list());
    // The secret is base64url and may itself contain "_": everything after the second "_".
    expect(all).not.toContain(token.slice(token.indexOf("_", token.indexOf("_") + 1) + 1));
  });

  it("an expired token is refused with UNAUTHENTICATED and audited", async () => {
    const past = new EnrollmentTokens(EnrollmentTokenRepository.of(ctl.dataSource), () => Date.now() - 2 * 3_600_000);
    const { token } = await past.create({ ttlMs: 3_600_000, uses: 5, tags: [], createdBy: "test" });
    const { csrDer } = await newKeyRequest("h");
    const err = await enrollError(enrollRpc(`127.0.0.1:${ctl.grpcPort}`, ctl.security.trust.ca.certPem, { token, csrDer, hostname: "h" }));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.message).toMatch(/expired/);
    const refused = await ctl.audit.query({ action: "agent.enroll_refused", limit: 10 });
    expect(refused.some((r) => r.details.includes("expired"))).toBe(true);
  });

  it("a token with its uses spent is refused; concurrent use of the last one lets exactly one through", async () => {
    const once = await createToken(ctl, { uses: 1 });
    await enrollAgent(ctl, once);
    const err = await enrollError(enrollAgent(ctl, once));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.message).toMatch(/no uses left/);

    const race = await createToken(ctl, { uses: 1 });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => enrollAgent(ctl, race)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("forged tokens (wrong secret, unknown id, garbage) are refused", async () => {
    const real = await createToken(ctl, { uses: 10 });
    const [prefix, id] = real.split("_");
    const forged = [`${prefix}_${id}_${"A".repeat(43)}`, `vet_${"0".repeat(16)}_${"B".repeat(43)}`, "not-a-token", ""];
    for (const t of forged) {
      const err = await enrollError(enrollAgent(ctl, t));
      expect(err.code).toBe(status.UNAUTHENTICATED);
    }
    // The forgery with the real id did not consume a use.
    expect((await ctl.security.trust.tokens.list()).find((t) => t.id === id)?.usesLeft).toBe(10);
  });

  it("a request that is not a valid CSR is refused without spending a use", async () => {
    const token = await createToken(ctl, { uses: 1 });
    const err = await enrollError(enrollRpc(`127.0.0.1:${ctl.grpcPort}`, ctl.security.trust.ca.certPem, { token, csrDer: Buffer.from("garbage"), hostname: "h" }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    await enrollAgent(ctl, token);
  });
});
