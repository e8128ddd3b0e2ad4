import { parseArgs } from "node:util";
import { appendFromCli } from "../audit/open-audit-log";
import { AuditRepository } from "../database/repositories/audit-repository";
import { CertificateRepository } from "../database/repositories/certificate-repository";
import { AgentCertificates } from "../trust/agent-certificates";
import { revokeAgent } from "../trust/revoke";
import { DB_OPTIONS, fail, withDatabase } from "./cli-db";

/** `agent revoke ID [--reason TEXT]`: the running controller closes the agent's stream within its poll interval. */
export async function agentCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "revoke") return fail(`agent: expected "revoke ID"`);
  const { values, positionals } = parseArgs({ args: rest, options: { ...DB_OPTIONS, reason: { type: "string" } }, strict: true, allowPositionals: true });
  const id = positionals[0];
  if (!id) return fail("agent revoke: give the agent id");
  return withDatabase({ database: values.database, dataDir: values["data-dir"] }, async (ds, config) => {
    const certs = new AgentCertificates(CertificateRepository.of(ds));
    if (!(await certs.knownAgent(id))) return fail(`agent revoke: no enrolled agent "${id.slice(0, 128)}"`, 1);
    let r: Awaited<ReturnType<typeof revokeAgent>> | undefined;
    await appendFromCli(AuditRepository.of(ds), config, async (audit) => (r = await revokeAgent(certs, audit, id, "cli", values.reason ?? "")));
    if (!r) return 1;
    process.stdout.write(r.revoked ? `revoked agent ${id} (${r.certificates} certificate(s)); its stream closes within seconds\n` : `agent ${id} was already revoked\n`);
    return 0;
  });
}
