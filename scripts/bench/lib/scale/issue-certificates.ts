import { randomUUID } from "node:crypto";
import { newKeyRequest } from "../../../../agent/src/enroll/key-request";
import { createDataSource } from "../../../../controller/dist/database/data-source";
import { CertificateRepository } from "../../../../controller/dist/database/repositories/certificate-repository";
import { AgentCertificates } from "../../../../controller/dist/trust/agent-certificates";
import { CertificateAuthority } from "../../../../controller/dist/trust/ca";
import type { FleetIdentity } from "../../../../controller/test/support/mtls-fleet";

/**
 * (The bench runs under tsx, which cannot load the TypeORM entities' decorators: this is
 * controller/test/support/fleet-certificates.ts over the compiled controller/dist.)
 * Issues `n` identities straight from the controller's CA and records them in its database: the
 * certificates enrollment would issue (same CA, same record the mTLS check looks up), without a
 * token round trip and audit append per agent, which would dominate a test of 200 or a bench of
 * 10,000 agents. Enrollment itself is tested in test/trust.
 */
export async function issueFleet(databaseUrl: string, caDir: string, n: number, concurrency = 16, opts: { sharedKey?: boolean } = {}): Promise<FleetIdentity[]> {
  const ds = createDataSource({ url: databaseUrl });
  await ds.initialize();
  try {
    const ca = await CertificateAuthority.loadOrCreate(caDir);
    const certs = new AgentCertificates(CertificateRepository.of(ds));
    const out: FleetIdentity[] = new Array<FleetIdentity>(n);
    let next = 0;
    // A bench of 10,000 agents may share one key pair: each still gets its own certificate (its own agent id and fingerprint).
    const shared = opts.sharedKey ? await newKeyRequest("fleet") : undefined;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const { keyPem, csrDer } = shared ?? (await newKeyRequest(`fleet-${i}`));
        const agentId = randomUUID();
        const issued = await ca.issueAgent(await ca.readCsr(csrDer), agentId, 7 * 86_400_000);
        await certs.record(agentId, issued, { tokenId: "fleet", tags: [] });
        out[i] = { agentId, keyPem, certPem: issued.pem };
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    return out;
  } finally {
    await ds.destroy();
  }
}
